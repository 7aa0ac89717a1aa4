"""The sans-IO WebSocket core: frames, masking, parser errors and the HTTP upgrade."""

from __future__ import annotations

import base64
import contextlib
import os
import struct

import pytest
from hypothesis import given, settings, strategies as st

from transports.ws_protocol import (
    CLOSE_TOO_BIG,
    ClientHandshake,
    FrameParser,
    Opcode,
    ServerHandshake,
    WebSocketError,
    WebSocketHandshakeError,
    accept_token,
    encode_close,
    encode_frame,
    mask,
)


def frame(opcode: int, payload: bytes, *, fin: bool = True, key: bytes | None = None,
          rsv: int = 0) -> bytes:  # fmt: skip
    """A hand-built frame, independent of encode_frame."""
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


def parse_all(parser: FrameParser, data: bytes, step: int | None = None):  # type: ignore[no-untyped-def]
    chunks: list[bytes] = []
    controls = []
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        c, k = parser.feed(data[i : i + step])
        chunks += [bytes(x) for x in c]
        controls += k
    return b"".join(chunks), controls


def test_rfc_6455_examples() -> None:
    # RFC 6455 §5.7: unmasked and masked "Hello", and a Ping.
    assert encode_frame(Opcode.TEXT, b"Hello", masked=False) == bytes.fromhex("810548656c6c6f")
    server = FrameParser(expect_masked=True, max_frame_size=1 << 20)
    data, _ = parse_all(server, bytes.fromhex("818537fa213d7f9f4d5158"))
    assert data == b"Hello"
    client = FrameParser(expect_masked=False, max_frame_size=1 << 20)
    _, controls = parse_all(client, bytes.fromhex("890548656c6c6f"))
    assert controls[0].opcode is Opcode.PING
    assert controls[0].payload == b"Hello"


def test_accept_token_rfc_example() -> None:
    assert accept_token(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
@pytest.mark.parametrize("masked", [False, True])
def test_round_trip_any_split(size: int, masked: bool) -> None:
    payload = os.urandom(size)
    wire = bytes(encode_frame(Opcode.BINARY, payload, masked=masked)) * 2
    for step in (1, 7, 4096, None):
        if step == 1 and size > 70_000:
            continue
        parser = FrameParser(expect_masked=masked, max_frame_size=1 << 20)
        data, controls = parse_all(parser, wire, step)
        assert data == payload * 2
        assert controls == []


@given(st.binary(max_size=600), st.binary(min_size=4, max_size=4), st.integers(0, 3))
def test_mask_matches_definition(data: bytes, key: bytes, offset: int) -> None:
    assert bytes(mask(data, key, offset)) == bytes(
        b ^ key[(i + offset) % 4] for i, b in enumerate(data)
    )


def test_text_fragmented_and_interleaved_control_frames_are_stream_bytes() -> None:
    key = b"\x01\x02\x03\x04"
    wire = (
        frame(Opcode.TEXT, b"hel", fin=False, key=key)
        + frame(Opcode.PING, b"p", key=key)
        + frame(Opcode.CONTINUATION, b"lo ", fin=False, key=key)
        + frame(Opcode.CONTINUATION, b"", fin=True, key=key)
        + frame(Opcode.BINARY, b"\xff\x00", key=key)
        + frame(Opcode.CLOSE, struct.pack("!H", 1000), key=key)
        + frame(Opcode.BINARY, b"ignored after close", key=key)
    )
    parser = FrameParser(expect_masked=True, max_frame_size=100)
    data, controls = parse_all(parser, wire, 3)
    assert data == b"hello \xff\x00"
    assert [c.opcode for c in controls] == [Opcode.PING, Opcode.CLOSE]
    assert controls[1].close_status() == (1000, "")
    assert parser.closed


def test_close_status() -> None:
    parser = FrameParser(expect_masked=False, max_frame_size=100)
    _, controls = parser.feed(bytes(encode_close(4001, "nope", masked=False)))
    assert controls[0].close_status() == (4001, "nope")
    parser = FrameParser(expect_masked=False, max_frame_size=100)
    _, controls = parser.feed(frame(Opcode.CLOSE, b""))
    assert controls[0].close_status() == (1005, "")


BAD_FRAMES = {
    "rsv bits": frame(Opcode.BINARY, b"x", rsv=0x40),
    "reserved data opcode": frame(0x3, b"x"),
    "reserved control opcode": frame(0xB, b"x"),
    "fragmented control": frame(Opcode.PING, b"x", fin=False),
    "long control": frame(Opcode.PING, b"x" * 126),
    "orphan continuation": frame(Opcode.CONTINUATION, b"x"),
    "new message inside fragmented": frame(Opcode.TEXT, b"a", fin=False) + frame(Opcode.TEXT, b"b"),
    "masked from server": frame(Opcode.BINARY, b"x", key=b"abcd"),
    "one-byte close": frame(Opcode.CLOSE, b"\x03"),
    "64-bit length with msb": bytes([0x82, 127]) + b"\x80" + b"\x00" * 7,
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
def test_malformed_frames_raise(name: str) -> None:
    parser = FrameParser(expect_masked=False, max_frame_size=1 << 20)
    with pytest.raises(WebSocketError):
        parser.feed(BAD_FRAMES[name])


def test_unmasked_client_frame_is_refused_by_server() -> None:
    with pytest.raises(WebSocketError, match="unmasked"):
        FrameParser(expect_masked=True, max_frame_size=100).feed(frame(Opcode.BINARY, b"x"))


def test_oversized_frame_is_refused_from_its_header() -> None:
    parser = FrameParser(expect_masked=False, max_frame_size=1000)
    with pytest.raises(WebSocketError) as info:
        parser.feed(frame(Opcode.BINARY, b"x" * 1001)[:10])
    assert info.value.close_code == CLOSE_TOO_BIG


@settings(max_examples=300)
@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_parse_or_raise_our_error(data: bytes, expect_masked: bool) -> None:
    parser = FrameParser(expect_masked=expect_masked, max_frame_size=1 << 16)
    with contextlib.suppress(WebSocketError):
        parser.feed(data)


# ------------------------------------------------------------------------ handshake


def test_handshake_round_trip_with_trailing_bytes() -> None:
    client = ClientHandshake("example.com:80", "/")
    assert client.request.startswith(b"GET / HTTP/1.1\r\n")
    assert b"sec-websocket-protocol" not in client.request.lower()
    server = ServerHandshake()
    assert server.receive_data(client.request[:20]) is None
    done = server.receive_data(client.request[20:] + b"early")
    assert done is not None
    response, trailing = done
    assert trailing == b"early"
    assert response.startswith(b"HTTP/1.1 101 ")
    assert client.receive_data(response[:10]) is None
    assert client.receive_data(response[10:] + b"\x82\x01x") == b"\x82\x01x"


def _request(*headers: str, method: str = "GET") -> bytes:
    return (f"{method} / HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


GOOD_HEADERS = (
    "Host: a",
    "Upgrade: websocket",
    "Connection: keep-alive, Upgrade",
    "Sec-WebSocket-Key: " + base64.b64encode(b"0123456789abcdef").decode(),
    "Sec-WebSocket-Version: 13",
)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"\x00\x01garbage\r\n\r\n", b"400"),
        (_request("Host: a"), b"426"),  # a plain HTTP client
        (_request(*GOOD_HEADERS, method="POST"), b"400"),
        (_request(*GOOD_HEADERS[:4], "Sec-WebSocket-Version: 8"), b"426"),
        (_request(*GOOD_HEADERS[:3], "Sec-WebSocket-Key: short", GOOD_HEADERS[4]), b"400"),
    ],
)
def test_server_refuses_bad_requests(request_bytes: bytes, status: bytes) -> None:
    with pytest.raises(WebSocketHandshakeError) as info:
        ServerHandshake().receive_data(request_bytes)
    assert info.value.response.split(b" ")[1] == status


def test_server_accepts_good_request_and_limits_header_size() -> None:
    assert ServerHandshake().receive_data(_request(*GOOD_HEADERS)) is not None
    with pytest.raises(WebSocketHandshakeError):
        ServerHandshake(max_size=2048).receive_data(b"GET / HTTP/1.1\r\nX: " + b"a" * 4096)


def test_client_refuses_bad_responses() -> None:
    client = ClientHandshake("h:1")
    with pytest.raises(WebSocketHandshakeError, match="404"):
        client.receive_data(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    client = ClientHandshake("h:1")
    with pytest.raises(WebSocketHandshakeError, match="Accept"):
        client.receive_data(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: bad\r\n\r\n"
        )
    client = ClientHandshake("h:1")
    with pytest.raises(WebSocketHandshakeError, match="closed"):
        client.receive_data(b"")
