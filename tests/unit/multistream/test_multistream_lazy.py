"""LazyNegotiatedStream: one flight for header, proposal and data; answers checked on read."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from p2pstack.bufstream import BufferedStream
from p2pstack.errors import (
    InvalidConfigError,
    MultistreamError,
    NegotiationFailed,
    NegotiationTimeout,
    ProtocolError,
)
from p2pstack.multistream import LazyNegotiatedStream, handle_protocol
from p2pstack.multistream.messages import encode_message

HEADER = encode_message("/multistream/1.0.0")


async def test_one_flight_and_listener_keeps_the_data() -> None:
    client_raw, server_raw = trio.testing.memory_stream_pair()
    lazy = LazyNegotiatedStream(client_raw, "/noise")
    assert not lazy.negotiated
    await lazy.send_all(b"\x00\x20" + b"e" * 32)
    flight = bytes(await server_raw.receive_some())
    assert flight == HEADER + encode_message("/noise") + b"\x00\x20" + b"e" * 32
    proto, server = await handle_protocol(BufferedStream(server_raw, flight), ["/noise"])
    assert proto == "/noise"
    assert await server.receive_exactly(34) == b"\x00\x20" + b"e" * 32
    await server.send_all(b"reply")
    assert await lazy.receive_some() == b"reply"
    assert lazy.negotiated
    await lazy.send_all(b"more")
    assert await server.receive_exactly(4) == b"more"


async def test_answer_and_data_in_one_read() -> None:
    client_raw, server_raw = trio.testing.memory_stream_pair()
    lazy = LazyNegotiatedStream(BufferedStream(client_raw), "/a")
    await server_raw.send_all(HEADER + encode_message("/a") + b"early data")
    await lazy.send_all(b"x")
    assert await lazy.receive_some(5) == b"early"
    assert await lazy.receive_some() == b" data"
    assert lazy.stream.buffered == 0


async def test_read_first_flushes_the_proposal() -> None:
    client_raw, server_raw = trio.testing.memory_stream_pair()
    lazy = LazyNegotiatedStream(client_raw, "/server-speaks-first")

    async def server() -> None:
        _, stream = await handle_protocol(server_raw, ["/server-speaks-first"])
        await stream.send_all(b"banner")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        assert await lazy.receive_some() == b"banner"


async def test_send_eof_first_and_explicit_negotiate() -> None:
    client_raw, server_raw = trio.testing.memory_stream_pair()
    lazy = LazyNegotiatedStream(client_raw, "/a")

    async def server() -> None:
        _, stream = await handle_protocol(server_raw, ["/a"])
        assert await stream.receive_some() == b""

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        await lazy.send_eof()
        await lazy.negotiate()
        assert lazy.negotiated
        await lazy.negotiate()  # idempotent


async def test_refused_read_raises_and_writes_break() -> None:
    client_raw, server_raw = trio.testing.memory_stream_pair()
    lazy = LazyNegotiatedStream(client_raw, "/noise")
    await lazy.send_all(b"\x00\x20" + b"e" * 32)  # succeeds: the refusal is not known yet

    async def server() -> None:
        with pytest.raises(NegotiationFailed):
            await handle_protocol(server_raw, ["/tls/1.0.0"])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        with pytest.raises(NegotiationFailed) as info:
            await lazy.receive_some()
        assert info.value.protocols == ("/noise",)
    with pytest.raises(NegotiationFailed):
        await lazy.receive_some()
    with pytest.raises(trio.BrokenResourceError) as broken:
        await lazy.send_all(b"more")
    assert isinstance(broken.value.__cause__, NegotiationFailed)
    await lazy.aclose()


async def test_listener_closes_before_answering() -> None:
    client_raw, server_raw = trio.testing.memory_stream_pair()
    lazy = LazyNegotiatedStream(client_raw, "/a")
    await server_raw.send_eof()
    with pytest.raises(NegotiationFailed, match="closed"):
        await lazy.receive_some()


async def test_garbage_answer_is_a_protocol_error() -> None:
    client_raw, server_raw = trio.testing.memory_stream_pair()
    lazy = LazyNegotiatedStream(client_raw, "/a")
    await server_raw.send_all(HEADER + encode_message("/b"))
    with pytest.raises(MultistreamError) as info:
        await lazy.receive_some()
    assert isinstance(info.value, ProtocolError)


async def test_timeout(autojump_clock: trio.testing.MockClock) -> None:
    client_raw, _server_raw = trio.testing.memory_stream_pair()
    lazy = LazyNegotiatedStream(client_raw, "/a", timeout=5)
    with pytest.raises(NegotiationTimeout):
        await lazy.receive_some()


async def test_closed_and_argument_errors() -> None:
    client_raw, _server_raw = trio.testing.memory_stream_pair()
    with pytest.raises(InvalidConfigError):
        LazyNegotiatedStream(client_raw, "no-slash")
    lazy = LazyNegotiatedStream(client_raw, "/a")
    with pytest.raises(ValueError, match="max_bytes"):
        await lazy.receive_some(0)
    await lazy.aclose()
    await lazy.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await lazy.receive_some()
    with pytest.raises(trio.ClosedResourceError):
        await lazy.send_all(b"x")
    with pytest.raises(trio.ClosedResourceError):
        await lazy.negotiate()


async def _lazy_stream_pair() -> tuple[LazyNegotiatedStream, BufferedStream]:
    client_raw, server_raw = trio.testing.memory_stream_pair()
    lazy = LazyNegotiatedStream(client_raw, "/conformance")
    await lazy.send_all(b"")  # flushes the proposal; the answer stays unread until needed
    _, server = await handle_protocol(server_raw, ["/conformance"])
    return lazy, server


async def test_half_closeable_stream_conformance() -> None:
    await trio.testing.check_half_closeable_stream(_lazy_stream_pair, None)
