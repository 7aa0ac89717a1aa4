"""Trio adapters over memory streams: leftovers reach the next reader, errors, timeouts."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from p2pstack.bufstream import BufferedStream
from p2pstack.errors import (
    InvalidConfigError,
    MessageTooLarge,
    MultistreamError,
    NegotiationFailed,
    NegotiationTimeout,
    UnexpectedEOF,
)
from p2pstack.multistream import handle_protocol, list_protocols, select_protocol
from p2pstack.multistream.messages import encode_message
from tests.helpers.streams import HalfCloseablePassthrough

HEADER = encode_message("/multistream/1.0.0")


class Trickle(HalfCloseablePassthrough):
    """Delivers at most one byte per receive_some, to exercise partial reads."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return bytes(await self.inner.receive_some(1))


def pair(trickle: bool) -> tuple[trio.abc.HalfCloseableStream, trio.abc.HalfCloseableStream]:
    a, b = trio.testing.memory_stream_pair()
    return (Trickle(a), Trickle(b)) if trickle else (a, b)


TRICKLE = pytest.mark.parametrize("trickle", [False, True], ids=["whole", "trickle"])


@TRICKLE
async def test_select_and_handle_with_leftovers(trickle: bool) -> None:
    client_raw, server_raw = pair(trickle)
    results: dict[str, object] = {}

    async def server() -> None:
        proto, stream = await handle_protocol(server_raw, ["/echo/1.0.0", "/noise"])
        results["server"] = proto
        assert await stream.receive_exactly(5) == b"hello"
        await stream.send_all(b"world")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        proto, stream = await select_protocol(client_raw, ["/nope", "/noise"])
        await stream.send_all(b"hello")
        assert await stream.receive_exactly(5) == b"world"
    assert proto == results["server"] == "/noise"


async def test_pipelined_bytes_in_the_same_read_reach_the_next_layer() -> None:
    client, server_raw = trio.testing.memory_stream_pair()
    flight = HEADER + encode_message("/noise") + HEADER + encode_message("/yamux/1.0.0")
    await client.send_all(flight + b"\x00\x00\x00\x01frame")
    proto, stream = await handle_protocol(server_raw, ["/noise"])
    assert proto == "/noise"
    assert stream.buffered > 0
    proto2, stream2 = await handle_protocol(stream, ["/yamux/1.0.0"])
    assert proto2 == "/yamux/1.0.0"
    assert stream2 is stream  # a BufferedStream is reused, not wrapped again
    assert await stream2.receive_exactly(9) == b"\x00\x00\x00\x01frame"
    answers = await client.receive_some()
    expected = HEADER + encode_message("/noise") + HEADER + encode_message("/yamux/1.0.0")
    while len(answers) < len(expected):
        answers += await client.receive_some()
    assert answers == expected


async def test_existing_buffer_is_consumed_first() -> None:
    _client, server_raw = trio.testing.memory_stream_pair()
    buffered = BufferedStream(server_raw, initial=HEADER + encode_message("/a") + b"rest")
    proto, stream = await handle_protocol(buffered, ["/a"])
    assert (proto, stream) == ("/a", buffered)
    assert await stream.receive_exactly(4) == b"rest"


@TRICKLE
async def test_no_common_protocol(trickle: bool) -> None:
    client_raw, server_raw = pair(trickle)

    async def server() -> None:
        with pytest.raises(NegotiationFailed) as info:
            await handle_protocol(server_raw, ["/c"])
        assert info.value.protocols == ("/a", "/b")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        with pytest.raises(NegotiationFailed) as info:
            await select_protocol(client_raw, ["/a", "/b"])
        assert info.value.protocols == ("/a", "/b")
        await client_raw.aclose()  # the dialer gives up by closing the stream


async def test_listener_closes_early() -> None:
    client, server = trio.testing.memory_stream_pair()
    await server.aclose()
    with pytest.raises((NegotiationFailed, trio.BrokenResourceError)):
        await select_protocol(client, ["/a"])
    client2, server2 = trio.testing.memory_stream_pair()
    await server2.send_all(HEADER[:4])
    await server2.send_eof()
    with pytest.raises(UnexpectedEOF):
        await select_protocol(client2, ["/a"])


async def test_listener_sees_garbage() -> None:
    client, server = trio.testing.memory_stream_pair()
    await client.send_all(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n" * 3)
    with pytest.raises(MultistreamError):
        await handle_protocol(server, ["/a"])
    client2, server2 = trio.testing.memory_stream_pair()
    await client2.send_all(b"\xff\xff\x7f")
    with pytest.raises(MessageTooLarge):
        await handle_protocol(server2, ["/a"])


async def test_dialer_sees_garbage() -> None:
    client, server = trio.testing.memory_stream_pair()
    await server.send_all(HEADER + encode_message("/other"))
    with pytest.raises(MultistreamError, match="answered"):
        await select_protocol(client, ["/a"])


async def test_listener_timeout(autojump_clock: trio.testing.MockClock) -> None:
    _client, server = trio.testing.memory_stream_pair()
    start = trio.current_time()
    with pytest.raises(NegotiationTimeout, match=r"timed out after 10\.0 s"):
        await handle_protocol(server, ["/a"])
    assert trio.current_time() - start == pytest.approx(10.0)


async def test_dialer_timeout(autojump_clock: trio.testing.MockClock) -> None:
    client, server = trio.testing.memory_stream_pair()
    await server.send_all(HEADER)
    with pytest.raises(NegotiationTimeout) as info:
        await select_protocol(client, ["/a"], timeout=2.5)
    assert isinstance(info.value, NegotiationFailed)


async def test_no_timeout(autojump_clock: trio.testing.MockClock) -> None:
    client, _server = trio.testing.memory_stream_pair()
    with trio.move_on_after(3600) as scope:
        await select_protocol(client, ["/a"], timeout=None)
    assert scope.cancelled_caught


async def test_list_protocols_then_select() -> None:
    client_raw, server_raw = trio.testing.memory_stream_pair()

    async def server() -> None:
        proto, stream = await handle_protocol(server_raw, ["/ipfs/id/1.0.0", "/echo"])
        assert proto == "/echo"
        await stream.send_all(await stream.receive_exactly(3))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        client = BufferedStream(client_raw)
        assert await list_protocols(client) == ["/ipfs/id/1.0.0", "/echo"]
        _proto, stream = await select_protocol(client, ["/echo"], header_exchanged=True)
        await stream.send_all(b"abc")
        assert await stream.receive_exactly(3) == b"abc"


async def test_list_protocols_refused() -> None:
    client_raw, server_raw = trio.testing.memory_stream_pair()

    async def server() -> None:
        with pytest.raises(NegotiationFailed):
            await handle_protocol(server_raw, lambda p: p == "/x")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        with pytest.raises(NegotiationFailed, match="ls"):
            await list_protocols(client_raw)
        await client_raw.aclose()


async def test_list_protocols_unexpected_extra_bytes() -> None:
    client, server = trio.testing.memory_stream_pair()
    await server.send_all(HEADER + b"\x01\n" + b"extra")
    with pytest.raises(MultistreamError, match="after the ls answer"):
        await list_protocols(client)


async def test_bad_arguments() -> None:
    client, _server = trio.testing.memory_stream_pair()
    with pytest.raises(InvalidConfigError):
        await select_protocol(client, [])
    with pytest.raises(InvalidConfigError):
        await handle_protocol(client, ["no-slash"])
