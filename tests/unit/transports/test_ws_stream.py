"""WebSocketStream against hand-made bytes: frames, errors, the HTTP upgrade (memory streams).

The other end is raw bytes; what we send is decoded with wsproto's own ``Connection``.
"""

from __future__ import annotations

import struct

import pytest
import trio
import trio.testing
from hypothesis import given, settings, strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Pong,
    Request,
)

from p2pstack.transports.ws_protocol import (
    WebSocketClosed,
    WebSocketError,
    WebSocketHandshakeError,
)
from p2pstack.transports.ws_stream import WebSocketStream, open_client_stream

Raw = trio.StapledStream[trio.testing.MemorySendStream, trio.testing.MemoryReceiveStream]
KEY = b"\x01\x02\x03\x04"
TEXT, BINARY, CONTINUATION, CLOSE, PING = 0x1, 0x2, 0x0, 0x8, 0x9


def frame(opcode: int, payload: bytes, *, fin: bool = True, key: bytes | None = None,
          rsv: int = 0) -> bytes:  # fmt: skip
    """A hand-built frame (RFC 6455 §5.2), independent of any codec."""
    first = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    mbit = 0x80 if key is not None else 0
    if n < 126:
        head = bytes([first, mbit | n])
    elif n < 65536:
        head = bytes([first, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([first, mbit | 127]) + struct.pack("!Q", n)
    if key is None:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def server_stream(extra: bytes = b"", **options: int) -> tuple[WebSocketStream, Raw]:
    """Our server stream, upgraded by a wsproto client that then sends ``extra`` at once."""
    raw, ours = trio.testing.memory_stream_pair()
    stream = WebSocketStream(ours, **options)  # type: ignore[arg-type]
    client = WSConnection(ConnectionType.CLIENT)
    await raw.send_all(client.send(Request(host="test", target="/")) + extra)
    await stream.do_handshake()
    client.receive_data(bytes(await raw.receive_some()))
    assert isinstance(next(client.events()), AcceptConnection)
    return stream, raw


async def client_stream(extra: bytes = b"", **options: int) -> tuple[WebSocketStream, Raw]:
    """Our client stream, accepted by a wsproto server whose 101 is followed by ``extra``."""
    raw, ours = trio.testing.memory_stream_pair()
    server = WSConnection(ConnectionType.SERVER)
    streams: list[WebSocketStream] = []

    async def dial() -> None:
        streams.append(await open_client_stream(ours, host="test", **options))  # type: ignore[arg-type]

    async with trio.open_nursery() as nursery:
        nursery.start_soon(dial)
        server.receive_data(bytes(await raw.receive_some()))
        assert isinstance(next(server.events()), Request)
        await raw.send_all(server.send(AcceptConnection()) + extra)
    return streams[0], raw


async def sent_events(raw: Raw, *, by_client: bool) -> list[Event]:
    """Decode what our stream wrote so far (as the peer's wsproto would)."""
    peer = Connection(ConnectionType.SERVER if by_client else ConnectionType.CLIENT)
    with trio.fail_after(2):
        peer.receive_data(bytes(await raw.receive_some()))
    return list(peer.events())


async def read_all(stream: WebSocketStream) -> bytes:
    data = bytearray()
    with trio.fail_after(5):
        while chunk := await stream.receive_some():
            data += chunk
    return bytes(data)


# ----------------------------------------------------------------------- frames


async def test_rfc_6455_examples() -> None:
    # RFC 6455 §5.7: a masked "Hello" to a server; a Ping "Hello" to a client.
    server, _ = await server_stream(bytes.fromhex("818537fa213d7f9f4d5158"))
    assert await server.receive_some() == b"Hello"
    client, raw = await client_stream(bytes.fromhex("890548656c6c6f") + frame(BINARY, b"x"))
    assert await client.receive_some() == b"x"
    assert await sent_events(raw, by_client=True) == [Pong(payload=b"Hello")]


async def test_text_fragmented_and_interleaved_control_frames_are_stream_bytes() -> None:
    wire = (
        frame(TEXT, "hé".encode(), fin=False, key=KEY)
        + frame(PING, b"p", key=KEY)
        + frame(CONTINUATION, b"lo ", fin=False, key=KEY)
        + frame(CONTINUATION, b"", fin=True, key=KEY)
        + frame(BINARY, b"\xff\x00", key=KEY)
        + frame(CLOSE, struct.pack("!H", 1000), key=KEY)
        + frame(BINARY, b"ignored after close", key=KEY)
    )
    server, raw = await server_stream()
    for i in range(0, len(wire), 3):
        await raw.send_all(wire[i : i + 3])
    assert await read_all(server) == "hélo ".encode() + b"\xff\x00"
    assert server.close_code == 1000
    assert await sent_events(raw, by_client=False) == [Pong(payload=b"p")]
    await server.send_all(b"still open")  # the peer's Close is EOF, our side still sends
    await server.send_eof()
    assert await sent_events(raw, by_client=False) == [
        BytesMessage(data=b"still open"),
        CloseConnection(code=1000, reason=""),
    ]


async def test_close_without_code_is_eof_and_error_code_is_broken() -> None:
    client, _ = await client_stream(frame(BINARY, b"a") + frame(CLOSE, b""))
    assert await read_all(client) == b"a"
    assert client.close_code == 1005
    client, raw = await client_stream(frame(CLOSE, struct.pack("!H", 4001) + b"nope"))
    with pytest.raises(trio.BrokenResourceError) as info:
        await client.receive_some()
    assert isinstance(info.value.__cause__, WebSocketClosed)
    assert (info.value.__cause__.code, info.value.__cause__.reason) == (4001, "nope")
    assert await sent_events(raw, by_client=True) == [CloseConnection(code=4001, reason="")]
    with pytest.raises(trio.BrokenResourceError):
        await client.send_all(b"x")


async def test_large_frames_stream_out_in_pieces() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB in one frame, read 64 KiB at a time
    client, raw = await client_stream(read_size=65536)
    await raw.send_all(frame(BINARY, payload) + frame(CLOSE, struct.pack("!H", 1000)))
    sizes = []
    data = bytearray()
    while chunk := await client.receive_some():
        sizes.append(len(chunk))
        data += chunk
    assert data == payload
    assert max(sizes) <= 65536


async def test_send_splits_at_send_frame_size() -> None:
    server, raw = await server_stream(send_frame_size=1000)
    await server.send_all(memoryview(b"y" * 2500))
    events = await sent_events(raw, by_client=False)
    assert [len(e.data) for e in events if isinstance(e, BytesMessage)] == [1000, 1000, 500]


BAD_FRAMES = {
    "rsv bits": frame(BINARY, b"x", rsv=0x40),
    "reserved data opcode": frame(0x3, b"x"),
    "reserved control opcode": frame(0xB, b"x"),
    "fragmented control": frame(PING, b"x", fin=False),
    "long control": frame(PING, b"x" * 126),
    "orphan continuation": frame(CONTINUATION, b"x"),
    "new message inside fragmented": frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"),
    "masked from server": frame(BINARY, b"x", key=b"abcd"),
    "one-byte close": frame(CLOSE, b"\x03"),
    "close code 999": frame(CLOSE, struct.pack("!H", 999)),
    "64-bit length with msb": bytes([0x82, 127]) + b"\x80" + b"\x00" * 7,
    "non-minimal length": bytes([0x82, 126, 0, 5]) + b"hello",
    "bad utf-8 text": frame(TEXT, b"\xff\xfe"),
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
async def test_malformed_frames_fail_with_our_error_and_a_close(name: str) -> None:
    client, raw = await client_stream(BAD_FRAMES[name])
    with pytest.raises(trio.BrokenResourceError) as info:
        await read_all(client)  # data before the bad frame is still read
    error = info.value.__cause__
    assert isinstance(error, WebSocketError)
    (close,) = await sent_events(raw, by_client=True)
    assert isinstance(close, CloseConnection)
    assert close.code == error.close_code == (1007 if "utf-8" in name else 1002)
    with pytest.raises(trio.BrokenResourceError):
        await client.send_all(b"x")


async def test_unmasked_client_frame_is_refused_by_server() -> None:
    server, _ = await server_stream(frame(BINARY, b"x"))
    with pytest.raises(trio.BrokenResourceError) as info:
        await server.receive_some()
    assert "unmasked" in str(info.value.__cause__)


async def test_oversized_frame_is_refused_with_1009() -> None:
    client, raw = await client_stream(frame(BINARY, b"x" * 1001), max_frame_size=1000)
    with pytest.raises(trio.BrokenResourceError) as info:
        await client.receive_some()
    assert isinstance(info.value.__cause__, WebSocketError)
    assert info.value.__cause__.close_code == 1009
    (close,) = await sent_events(raw, by_client=True)
    assert isinstance(close, CloseConnection)
    assert close.code == 1009
    # Many frames each within the limit are fine.
    client, raw = await client_stream(frame(BINARY, b"x" * 1000) * 3, max_frame_size=1000)
    assert len(await client.receive_some()) == 3000


FRAMES = st.builds(
    frame,
    st.integers(0, 15),
    st.binary(max_size=140),
    fin=st.booleans(),
    key=st.one_of(st.none(), st.binary(min_size=4, max_size=4)),
    rsv=st.sampled_from([0, 0, 0, 0x40, 0x10]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(FRAMES, st.binary(max_size=40)), max_size=6), st.booleans())
def test_any_bytes_are_data_eof_or_our_error(parts: list[bytes], server_side: bool) -> None:
    async def main() -> None:
        maker = server_stream if server_side else client_stream
        stream, raw = await maker(max_frame_size=100)
        await raw.send_all(b"".join(parts))
        await raw.send_stream.aclose()
        error: BaseException | None = None
        try:
            await read_all(stream)
        except trio.BrokenResourceError as exc:
            error = exc.__cause__
        assert error is None or isinstance(error, WebSocketError | WebSocketClosed)
        await stream.aclose()

    trio.run(main)


# ------------------------------------------------------------------------ handshake


async def test_dial_request_is_plain_get_and_early_bytes_are_kept() -> None:
    raw, ours = trio.testing.memory_stream_pair()
    server = WSConnection(ConnectionType.SERVER)
    async with trio.open_nursery() as nursery:
        streams: list[WebSocketStream] = []

        async def dial() -> None:
            streams.append(await open_client_stream(ours, host="example.com:80"))

        nursery.start_soon(dial)
        request = await raw.receive_some()
        assert request.startswith(b"GET / HTTP/1.1\r\n")
        assert b"host: example.com:80\r\n" in request.lower()
        assert b"sec-websocket-protocol" not in request.lower()
        assert b"sec-websocket-extensions" not in request.lower()
        server.receive_data(bytes(request))
        response = server.send(AcceptConnection()) + frame(BINARY, b"early")
        for i in range(0, len(response), 10):  # the 101 arrives in pieces
            await raw.send_all(response[i : i + 10])
    assert await streams[0].receive_some() == b"early"
    # And the server keeps bytes a client sends right behind its request.
    stream, _ = await server_stream(frame(BINARY, b"eager", key=KEY))
    assert await stream.receive_some() == b"eager"


def _request(*headers: str, method: str = "GET") -> bytes:
    return (f"{method} / HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


GOOD_HEADERS = (
    "Host: a",
    "Upgrade: websocket",
    "Connection: keep-alive, Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",  # RFC 6455 §1.3
    "Sec-WebSocket-Version: 13",
)


async def _serve_raw(request: bytes, **options: int) -> tuple[bytes, BaseException | None]:
    """Send ``request`` to a server stream; its answer and handshake error (if any)."""
    raw, ours = trio.testing.memory_stream_pair()
    stream = WebSocketStream(ours, **options)  # type: ignore[arg-type]
    await raw.send_all(request)
    await raw.send_stream.aclose()
    error: BaseException | None = None
    try:
        await stream.do_handshake()
    except trio.BrokenResourceError as exc:
        error = exc.__cause__
    await stream.aclose()
    answer = bytearray()
    while chunk := await raw.receive_some():
        answer += chunk
    return bytes(answer), error


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"\x00\x01garbage\r\n\r\n", b"400"),
        (_request("Host: a"), b"400"),  # a plain HTTP client
        (_request(*GOOD_HEADERS, method="POST"), b"400"),
        (_request(*GOOD_HEADERS[:4], "Sec-WebSocket-Version: 8"), b"426"),
        (_request(*GOOD_HEADERS[1:]), b"400"),  # no Host
        (_request(*GOOD_HEADERS[:3], GOOD_HEADERS[4]), b"400"),  # no key
        (_request(*GOOD_HEADERS, "X: " + "a" * 2000), b"431"),
    ],
)
async def test_server_refuses_bad_requests(request_bytes: bytes, status: bytes) -> None:
    answer, error = await _serve_raw(request_bytes, max_handshake_size=1024)
    assert answer.split(b" ")[1] == status
    assert isinstance(error, WebSocketHandshakeError)
    assert error.response == answer


async def test_server_accepts_good_request() -> None:
    answer, error = await _serve_raw(_request(*GOOD_HEADERS))
    assert error is None
    assert answer.startswith(b"HTTP/1.1 101 ")
    assert b"sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=" in answer.lower()


async def _dial_raw(response: bytes) -> BaseException:
    raw, ours = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(raw.receive_some)
        await raw.send_all(response)
        await raw.send_stream.aclose()
        with pytest.raises(WebSocketHandshakeError) as info:
            await open_client_stream(ours, host="h:1", max_handshake_size=1024)
    return info.value


_SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "HTTP 404"),
        (_SWITCHING + b"Sec-WebSocket-Accept: bad\r\n\r\n", "accept"),
        (b"", "closed"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 300, "larger than 1024"),
        (b"\x00garbage\r\n\r\n", "bad upgrade response"),
    ],
)
async def test_client_refuses_bad_responses(response: bytes, match: str) -> None:
    error = await _dial_raw(response)
    assert match.lower() in str(error).lower()


@pytest.mark.parametrize(
    "header", [b"Sec-WebSocket-Protocol: chat", b"Sec-WebSocket-Extensions: x"]
)
async def test_client_refuses_what_it_did_not_offer(header: bytes) -> None:
    raw, ours = trio.testing.memory_stream_pair()
    server = WSConnection(ConnectionType.SERVER)
    async with trio.open_nursery() as nursery:

        async def answer() -> None:
            server.receive_data(bytes(await raw.receive_some()))
            accept = server.send(AcceptConnection())
            await raw.send_all(accept.replace(b"\r\n\r\n", b"\r\n" + header + b"\r\n\r\n"))

        nursery.start_soon(answer)
        with pytest.raises(WebSocketHandshakeError, match="unrecognized"):
            await open_client_stream(ours, host="h:1")


HEADER_LINES = st.sampled_from(
    [*GOOD_HEADERS, "Host: \u00ff", "Connection: \u00e9", "Sec-WebSocket-Version: 8", ""]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(HEADER_LINES.map(str.encode), st.binary(max_size=30)), max_size=8),
    st.sampled_from([b"GET / HTTP/1.1", b"GET \xff HTTP/1.1", b"", b"HTTP/1.1 101 OK"]),
)
def test_any_upgrade_request_is_answered_or_our_error(lines: list[bytes], first: bytes) -> None:
    request = b"\r\n".join([first, *lines]) + b"\r\n\r\n"

    async def main() -> None:
        answer, error = await _serve_raw(request)
        assert error is None or isinstance(error, WebSocketHandshakeError)
        assert answer.startswith(b"HTTP/1.1 ") or (answer == b"" and error is not None)

    trio.run(main)


RESPONSE_LINES = st.sampled_from(
    [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "Sec-WebSocket-Protocol: \u00e9",
        "Sec-WebSocket-Extensions: permessage-deflate",
        "Content-Length: 3",
        "",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(RESPONSE_LINES.map(str.encode), st.binary(max_size=30)), max_size=8),
    st.sampled_from([b"HTTP/1.1 101 Switching Protocols", b"HTTP/1.1 200 OK", b"HTTP/1.0 \xff"]),
)
def test_any_upgrade_response_is_accepted_or_our_error(lines: list[bytes], first: bytes) -> None:
    response = b"\r\n".join([first, *lines]) + b"\r\n\r\n"

    async def main() -> None:
        raw, ours = trio.testing.memory_stream_pair()
        await raw.send_all(response)
        await raw.send_stream.aclose()
        try:
            stream = await open_client_stream(ours, host="h:1")
        except WebSocketHandshakeError:
            return
        await stream.aclose()

    trio.run(main)
