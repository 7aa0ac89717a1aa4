"""WebSocketStream's bulk paths: ``receive_into`` (payload moved in place in the caller's
buffer) over transports with and without ``receive_into``, and writes gathered into few
transport writes."""

from __future__ import annotations

import struct

import pytest
import trio
import trio.testing
from hypothesis import given, settings, strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Pong, Request

from p2pstack.transports.ws_protocol import WebSocketClosed, WebSocketError
from p2pstack.transports.ws_stream import WebSocketStream, open_client_stream
from tests.helpers.streams import Passthrough
from tests.unit.transports.test_ws_stream import (
    BINARY,
    CLOSE,
    FRAMES,
    KEY,
    PING,
    TEXT,
    Raw,
    frame,
    sent_events,
)

CLOSE_1000 = frame(CLOSE, struct.pack("!H", 1000))


class IntoStream(Passthrough):
    """A stream offering ``receive_into`` (as TcpStream does) and counting writes."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        super().__init__(inner)
        self.writes: list[int] = []

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(len(data))
        await self.inner.send_all(data)

    async def receive_into(self, buffer: bytearray | memoryview) -> int:
        data = await self.inner.receive_some(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)


class BytesStream(Passthrough):
    """A stream whose reads return ``bytes`` (as TcpStream's do), without ``receive_into``."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return bytes(await self.inner.receive_some(max_bytes))


async def opened(
    extra: bytes = b"", *, server: bool = False, into: bool = True, **options: int
) -> tuple[WebSocketStream, Raw, IntoStream | BytesStream]:
    """Our stream (client, or server) over an IntoStream (a BytesStream when not ``into``),
    upgraded by a wsproto peer whose first bytes after the upgrade are ``extra``."""
    raw, ours = trio.testing.memory_stream_pair()
    transport = IntoStream(ours) if into else BytesStream(ours)
    peer = WSConnection(ConnectionType.SERVER if not server else ConnectionType.CLIENT)
    if server:
        stream = WebSocketStream(transport, **options)  # type: ignore[arg-type]
        await raw.send_all(peer.send(Request(host="test", target="/")) + extra)
        await stream.do_handshake()
        peer.receive_data(bytes(await raw.receive_some()))
        assert isinstance(next(peer.events()), AcceptConnection)
    else:
        streams: list[WebSocketStream] = []

        async def dial() -> None:
            streams.append(await open_client_stream(transport, host="test", **options))  # type: ignore[arg-type]

        async with trio.open_nursery() as nursery:
            nursery.start_soon(dial)
            peer.receive_data(bytes(await raw.receive_some()))
            assert isinstance(next(peer.events()), Request)
            await raw.send_all(peer.send(AcceptConnection()) + extra)
        stream = streams[0]
    return stream, raw, transport


async def read_into(stream: WebSocketStream, size: int) -> bytes:
    data = bytearray()
    buffer = bytearray(size)
    with trio.fail_after(5):
        while count := await stream.receive_into(buffer):
            assert 0 < count <= size
            data += buffer[:count]
    return bytes(data)


@pytest.mark.parametrize("into", [True, False])
@pytest.mark.parametrize("size", [7, 1000, 300_000])
async def test_receive_into_gives_the_stream_bytes_in_order(into: bool, size: int) -> None:
    """Binary frames, a text frame and a Ping between them: the bytes in wire order."""
    wire = [
        frame(BINARY, b"a" * 5000),
        frame(BINARY, b"b" * 70_000),
        frame(TEXT, b"text"),
        frame(BINARY, b"c" * 300),
        frame(PING, b"p"),
        frame(BINARY, b"d" * 20_000),
    ]
    expected = b"a" * 5000 + b"b" * 70_000 + b"text" + b"c" * 300 + b"d" * 20_000
    client, _, _ = await opened(b"".join(wire) + CLOSE_1000, into=into, read_size=65536)
    assert await read_into(client, size) == expected
    assert await client.receive_into(bytearray(10)) == 0


@pytest.mark.parametrize("into", [True, False])
async def test_server_unmasks_in_place(into: bool) -> None:
    payload = bytes(range(256)) * 1000
    wire = frame(BINARY, payload, key=KEY) + frame(BINARY, b"tail", key=b"wxyz")
    server, _, _ = await opened(
        wire + frame(CLOSE, struct.pack("!H", 1000), key=KEY), server=True, into=into
    )
    assert await read_into(server, 65536) == payload + b"tail"


async def test_receive_into_needs_room_and_mixes_with_receive_some() -> None:
    client, _, _ = await opened(frame(BINARY, b"0123456789") + CLOSE_1000)
    with pytest.raises(ValueError, match="non-empty"):
        await client.receive_into(bytearray())
    assert await client.receive_some(3) == b"012"
    buffer = bytearray(4)
    assert await client.receive_into(memoryview(buffer)) == 4
    assert buffer == b"3456"
    assert await client.receive_some() == b"789"
    assert await client.receive_some() == b""


async def test_a_ping_read_with_data_is_answered_on_the_next_call(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The payload is in the caller's buffer already, so the Pong waits for the next read
    (a cancelled send of it then loses nothing)."""
    client, raw, _ = await opened(frame(BINARY, b"abc") + frame(PING, b"p"))
    buffer = bytearray(100)
    assert await client.receive_into(buffer) == 3
    assert buffer[:3] == b"abc"
    with trio.move_on_after(1) as scope:
        await client.receive_into(buffer)  # sends the Pong, then waits for data
    assert scope.cancelled_caught
    (pong,) = await sent_events(raw, by_client=True)
    assert isinstance(pong, Pong)
    assert pong.payload == b"p"


async def test_receive_into_reports_errors_and_closed() -> None:
    client, raw, _ = await opened(frame(BINARY, b"x", key=KEY))  # masked from a server
    with pytest.raises(trio.BrokenResourceError) as info:
        await client.receive_into(bytearray(100))
    assert isinstance(info.value.__cause__, WebSocketError)
    (close,) = await sent_events(raw, by_client=True)
    assert isinstance(close, CloseConnection)
    assert close.code == 1002
    await client.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await client.receive_into(bytearray(100))


async def test_a_large_write_goes_out_in_few_transport_writes() -> None:
    """2.5 MiB with 128 KiB frames: three writes of whole frames, every frame intact."""
    frame_size = 128 * 1024
    client, raw, transport = await opened(send_frame_size=frame_size)
    assert isinstance(transport, IntoStream)
    writes_before = len(transport.writes)
    payload = bytes(range(256)) * (10 * 1024)
    peer = Connection(ConnectionType.SERVER)
    received = bytearray()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.send_all, payload)
        with trio.fail_after(5):
            while len(received) < len(payload):
                peer.receive_data(bytes(await raw.receive_some()))
                for event in peer.events():
                    assert isinstance(event, BytesMessage)
                    assert len(event.data) == min(frame_size, len(payload) - len(received))
                    received += event.data
    assert received == payload
    writes = transport.writes[writes_before:]
    assert len(writes) == 3
    assert max(writes) == 1024 * 1024 + 8 * (2 + 8 + 4)


async def test_small_writes_are_one_frame_each() -> None:
    server, raw, transport = await opened(server=True, send_frame_size=1000)
    assert isinstance(transport, IntoStream)
    await server.send_all(b"x" * 10)
    await server.send_all(bytearray(b"y" * 1000))
    events = await sent_events(raw, by_client=False)
    data = [bytes(e.data) for e in events if isinstance(e, BytesMessage)]
    assert data == [b"x" * 10, b"y" * 1000]
    assert transport.writes[-2:] == [2 + 10, 4 + 1000]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(FRAMES, st.binary(max_size=40)), max_size=6),
    st.booleans(),
    st.integers(min_value=1, max_value=300),
)
def test_any_bytes_read_into_are_those_read_some(
    parts: list[bytes], server_side: bool, size: int
) -> None:
    """Any bytes from the peer: ``receive_into`` over a transport with ``receive_into``
    yields what ``receive_some`` over a plain one does, and the same kind of error (before
    an error, one may have handed out more of a text frame than the other)."""

    async def read(into: bool) -> tuple[bytes, type[BaseException] | None]:
        stream, raw, _ = await opened(server=server_side, into=into, max_frame_size=100)
        await raw.send_all(b"".join(parts))
        await raw.send_stream.aclose()
        data = bytearray()
        buffer = bytearray(size)
        error: BaseException | None = None
        try:
            with trio.fail_after(5):
                while True:
                    if into:
                        chunk = bytes(buffer[: await stream.receive_into(buffer)])
                    else:
                        chunk = bytes(await stream.receive_some(size))
                    if not chunk:
                        break
                    data += chunk
        except trio.BrokenResourceError as exc:
            error = exc.__cause__
        assert error is None or isinstance(error, WebSocketError | WebSocketClosed)
        await stream.aclose()
        return bytes(data), None if error is None else type(error)

    async def main() -> None:
        (by_into, error_into), (by_some, error_some) = await read(True), await read(False)
        assert error_into is error_some
        if error_into is None:
            assert by_into == by_some
        else:  # reads of other sizes may see more of a text frame before its bad UTF-8
            shorter, longer = sorted((by_into, by_some), key=len)
            assert longer.startswith(shorter)

    trio.run(main)
