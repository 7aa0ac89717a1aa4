"""Sans-IO WebSocket (RFC 6455) for libp2p: the HTTP/1.1 upgrade handshake and the frame codec.

The handshake is parsed by h11; the frame codec is our own, tuned for a byte stream: data
frames are streamed (a frame's payload is handed out as it arrives, never assembled into a
message), text and binary messages alike are stream bytes, and no extension or subprotocol is
negotiated. Nothing here does I/O: bytes in, data chunks, control frames and bytes out.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import os
import struct
from dataclasses import dataclass
from typing import Final

import h11

from stack.errors import ProtocolError

WS_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_CONTROL_PAYLOAD: Final = 125
DEFAULT_MAX_HANDSHAKE_SIZE: Final = 16 * 1024

# Close codes (RFC 6455 §7.4.1).
CLOSE_NORMAL: Final = 1000
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_NO_STATUS: Final = 1005
CLOSE_TOO_BIG: Final = 1009
EOF_CLOSE_CODES: Final = frozenset({CLOSE_NORMAL, CLOSE_NO_STATUS})

_XOR_TABLES: Final = [bytes(a ^ b for a in range(256)) for b in range(256)]
_BAD_REQUEST: Final = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_UPGRADE_REQUIRED: Final = (
    b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)


class WebSocketError(ProtocolError):
    """The peer broke RFC 6455; ``close_code`` is what we answer with in the Close frame."""

    def __init__(
        self, message: str, *, close_code: int = CLOSE_PROTOCOL_ERROR, remote: bool = True
    ) -> None:
        super().__init__(message, remote=remote)
        self.close_code = close_code


class WebSocketHandshakeError(WebSocketError):
    """The HTTP upgrade failed. ``response`` holds the bytes a server sends back (or b"")."""

    def __init__(self, message: str, *, response: bytes = b"", remote: bool = True) -> None:
        super().__init__(message, remote=remote)
        self.response = response


class WebSocketClosed(ProtocolError):
    """The peer closed the WebSocket with a code other than 1000/1005 (an error)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"peer closed the WebSocket with code {code}: {reason or '(no reason)'}")
        self.code = code
        self.reason = reason


class Opcode(enum.IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


@dataclass(frozen=True, slots=True)
class ControlFrame:
    """A received Ping, Pong or Close frame (payload unmasked)."""

    opcode: Opcode
    payload: bytes

    def close_status(self) -> tuple[int, str]:
        """``(code, reason)`` of a Close frame; 1005 when the frame carries no code."""
        if len(self.payload) < 2:
            return CLOSE_NO_STATUS, ""
        (code,) = struct.unpack_from("!H", self.payload)
        return code, self.payload[2:].decode("utf-8", "replace")


# ------------------------------------------------------------------------ masking


def mask(data: bytes | bytearray | memoryview, key: bytes, offset: int = 0) -> bytearray:
    """XOR ``data`` with the 4-byte ``key`` starting at key position ``offset`` (0-3)."""
    out = bytearray(data)
    if offset:
        key = key[offset:] + key[:offset]
    for i in range(4):
        out[i::4] = out[i::4].translate(_XOR_TABLES[key[i]])
    return out


def _header(opcode: int, length: int, *, masked: bool, fin: bool = True) -> bytearray:
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if masked else 0
    if length <= 125:
        return bytearray((first, mask_bit | length))
    if length <= 0xFFFF:
        return bytearray(struct.pack("!BBH", first, mask_bit | 126, length))
    return bytearray(struct.pack("!BBQ", first, mask_bit | 127, length))


def encode_frame(
    opcode: Opcode, payload: bytes | bytearray | memoryview, *, masked: bool
) -> bytes | bytearray:
    """One complete frame. Clients (``masked=True``) mask with a fresh random key."""
    length = len(payload)
    header = _header(opcode, length, masked=masked)
    if not masked:
        return b"".join((header, payload))
    key = os.urandom(4)
    frame = header + key
    start = len(frame)
    frame += payload
    for i in range(4):
        frame[start + i :: 4] = frame[start + i :: 4].translate(_XOR_TABLES[key[i]])
    return frame


def encode_close(code: int = CLOSE_NORMAL, reason: str = "", *, masked: bool) -> bytes | bytearray:
    """A Close frame with ``code`` and a reason truncated to fit 125 bytes."""
    payload = struct.pack("!H", code) + reason.encode("utf-8")[: MAX_CONTROL_PAYLOAD - 2]
    return encode_frame(Opcode.CLOSE, payload, masked=masked)


# -------------------------------------------------------------------------- parser


class FrameParser:
    """Incremental frame decoder for one direction of a WebSocket.

    ``expect_masked`` is True on the server (client frames must be masked) and False on the
    client. :meth:`feed` returns the data bytes (payload of text, binary and continuation
    frames, in order) and the control frames found; it stops at the first Close frame and
    ignores anything after it.

    Raises:
        WebSocketError: a malformed frame, a wrong mask bit, reserved bits or opcodes, bad
            fragmentation, or a frame larger than ``max_frame_size``.
    """

    def __init__(self, *, expect_masked: bool, max_frame_size: int) -> None:
        self._expect_masked = expect_masked
        self._max_frame_size = max_frame_size
        self._pending: bytes | bytearray = b""
        self._remaining = 0  # payload bytes left in the current data frame
        self._key: bytes | None = None
        self._key_offset = 0
        self._in_message = False
        self.closed = False

    def feed(self, data: bytes | bytearray) -> tuple[list[bytes | bytearray], list[ControlFrame]]:
        chunks: list[bytes | bytearray] = []
        controls: list[ControlFrame] = []
        if self.closed:
            return chunks, controls
        if self._pending:
            data = self._pending + data
            self._pending = b""
        end = len(data)
        pos = 0
        while pos < end:
            if self._remaining:
                take = min(self._remaining, end - pos)
                chunk: bytes | bytearray = (
                    data if pos == 0 and take == end else data[pos : pos + take]
                )
                if self._key is not None:
                    chunk = mask(chunk, self._key, self._key_offset)
                    self._key_offset = (self._key_offset + take) & 3
                chunks.append(chunk)
                pos += take
                self._remaining -= take
                continue
            parsed = self._parse_header(data, pos, end)
            if parsed is None:
                break
            opcode, length, key, payload_start = parsed
            if opcode >= Opcode.CLOSE:
                if end - payload_start < length:
                    break
                payload = bytes(data[payload_start : payload_start + length])
                if key is not None:
                    payload = bytes(mask(payload, key))
                pos = payload_start + length
                controls.append(ControlFrame(Opcode(opcode), payload))
                if opcode == Opcode.CLOSE:
                    self._check_close(payload)
                    self.closed = True
                    return chunks, controls
                continue
            pos = payload_start
            self._remaining = length
            self._key = key
            self._key_offset = 0
        if pos < end:
            self._pending = data[pos:]
        return chunks, controls

    def _parse_header(
        self, data: bytes | bytearray, pos: int, end: int
    ) -> tuple[int, int, bytes | None, int] | None:
        """(opcode, payload length, mask key, payload start), or None when incomplete."""
        if end - pos < 2:
            return None
        b0, b1 = data[pos], data[pos + 1]
        fin = bool(b0 & 0x80)
        opcode = b0 & 0x0F
        if b0 & 0x70:
            raise WebSocketError("reserved bits set but no extension was negotiated")
        length = b1 & 0x7F
        at = pos + 2
        if length == 126:
            if end - at < 2:
                return None
            (length,) = struct.unpack_from("!H", data, at)
            at += 2
        elif length == 127:
            if end - at < 8:
                return None
            (length,) = struct.unpack_from("!Q", data, at)
            at += 8
            if length >> 63:
                raise WebSocketError("frame length has its most significant bit set")
        masked = bool(b1 & 0x80)
        key: bytes | None = None
        if masked:
            if end - at < 4:
                return None
            key = bytes(data[at : at + 4])
            at += 4
        # The header is complete: validate it (and only now touch the fragmentation state,
        # since an incomplete control frame's header is parsed again on the next feed).
        if opcode >= Opcode.CLOSE:
            if opcode not in (Opcode.CLOSE, Opcode.PING, Opcode.PONG):
                raise WebSocketError(f"reserved control opcode {opcode:#x}")
            if not fin:
                raise WebSocketError("fragmented control frame")
            if length > MAX_CONTROL_PAYLOAD:
                raise WebSocketError(f"control frame of {length} bytes (more than 125)")
        elif opcode not in (Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY):
            raise WebSocketError(f"reserved data opcode {opcode:#x}")
        elif (opcode == Opcode.CONTINUATION) != self._in_message:
            raise WebSocketError(
                "new data message inside a fragmented message"
                if self._in_message
                else "continuation frame outside a fragmented message"
            )
        if masked != self._expect_masked:
            raise WebSocketError(
                "unmasked frame from a client"
                if self._expect_masked
                else "masked frame from a server"
            )
        if length > self._max_frame_size:
            raise WebSocketError(
                f"frame of {length} bytes exceeds the limit of {self._max_frame_size}",
                close_code=CLOSE_TOO_BIG,
            )
        if opcode < Opcode.CLOSE:
            self._in_message = not fin
        return opcode, length, key, at

    @staticmethod
    def _check_close(payload: bytes) -> None:
        if len(payload) == 1:
            raise WebSocketError("close frame with a 1-byte payload")


# ----------------------------------------------------------------------- handshake


def accept_token(key: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key + WS_GUID).digest())


def _header_tokens(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [
        token.strip().lower()
        for key, value in headers
        if key == name
        for token in value.split(b",")
    ]


def _header_value(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _host_bytes(host: str) -> bytes:
    """The Host header value: ASCII as is, an internationalised name in IDNA form."""
    try:
        return host.encode("ascii")
    except UnicodeEncodeError:
        name, colon, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
        return name.encode("idna") + (colon + port).encode("ascii")


class ClientHandshake:
    """The client side of the opening handshake (RFC 6455 §4.1)."""

    def __init__(
        self, host: str, path: str = "/", *, max_size: int = DEFAULT_MAX_HANDSHAKE_SIZE
    ) -> None:
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_size)
        self._key = base64.b64encode(os.urandom(16))
        self.request = self._conn.send(
            h11.Request(
                method="GET",
                target=path,
                headers=[
                    (b"Host", _host_bytes(host)),
                    (b"Upgrade", b"websocket"),
                    (b"Connection", b"Upgrade"),
                    (b"Sec-WebSocket-Key", self._key),
                    (b"Sec-WebSocket-Version", b"13"),
                ],
            )
        )

    def receive_data(self, data: bytes | bytearray) -> bytes | None:
        """Feed response bytes; returns the bytes after the 101 response once accepted.

        Raises:
            WebSocketHandshakeError: the server refused, answered badly or closed.
        """
        if not data:
            raise WebSocketHandshakeError("connection closed during the WebSocket handshake")
        self._conn.receive_data(bytes(data))
        try:
            event = self._conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise WebSocketHandshakeError(f"bad HTTP response: {exc}") from exc
        if event is h11.NEED_DATA:
            return None
        if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
            headers = list(event.headers)
            if b"websocket" not in _header_tokens(headers, b"upgrade"):
                raise WebSocketHandshakeError("101 response without 'Upgrade: websocket'")
            if b"upgrade" not in _header_tokens(headers, b"connection"):
                raise WebSocketHandshakeError("101 response without 'Connection: Upgrade'")
            if _header_value(headers, b"sec-websocket-accept") != accept_token(self._key):
                raise WebSocketHandshakeError("bad Sec-WebSocket-Accept in the 101 response")
            if _header_value(headers, b"sec-websocket-extensions") is not None:
                raise WebSocketHandshakeError("server chose an extension we did not offer")
            if _header_value(headers, b"sec-websocket-protocol") is not None:
                raise WebSocketHandshakeError("server chose a subprotocol we did not offer")
            trailing, _ = self._conn.trailing_data
            return bytes(trailing)
        if isinstance(event, (h11.Response, h11.InformationalResponse)):
            raise WebSocketHandshakeError(
                f"server refused the WebSocket upgrade: HTTP {event.status_code} "
                f"{event.reason.decode('latin-1')}"
            )
        raise WebSocketHandshakeError(f"unexpected HTTP event {type(event).__name__}")


class ServerHandshake:
    """The server side of the opening handshake (RFC 6455 §4.2); any path is accepted."""

    def __init__(self, *, max_size: int = DEFAULT_MAX_HANDSHAKE_SIZE) -> None:
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_size)
        self.path: str | None = None

    def receive_data(self, data: bytes | bytearray) -> tuple[bytes, bytes] | None:
        """Feed request bytes; once a valid upgrade request is in, ``(response, trailing)``.

        Raises:
            WebSocketHandshakeError: not a WebSocket upgrade; ``response`` is the HTTP error
                to send back before closing.
        """
        if not data:
            raise WebSocketHandshakeError("connection closed during the WebSocket handshake")
        self._conn.receive_data(bytes(data))
        try:
            event = self._conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise WebSocketHandshakeError(
                f"bad HTTP request: {exc}", response=_BAD_REQUEST
            ) from exc
        if event is h11.NEED_DATA:
            return None
        if not isinstance(event, h11.Request):
            raise WebSocketHandshakeError(
                f"unexpected HTTP event {type(event).__name__}", response=_BAD_REQUEST
            )
        headers = list(event.headers)
        if event.method != b"GET":
            raise WebSocketHandshakeError(
                f"{event.method.decode('latin-1')} is not a WebSocket upgrade",
                response=_BAD_REQUEST,
            )
        if b"websocket" not in _header_tokens(headers, b"upgrade") or (
            b"upgrade" not in _header_tokens(headers, b"connection")
        ):
            raise WebSocketHandshakeError(
                "HTTP request is not a WebSocket upgrade", response=_UPGRADE_REQUIRED
            )
        if _header_value(headers, b"sec-websocket-version") != b"13":
            raise WebSocketHandshakeError(
                "unsupported Sec-WebSocket-Version", response=_UPGRADE_REQUIRED
            )
        key = _header_value(headers, b"sec-websocket-key")
        try:
            valid_key = key is not None and len(base64.b64decode(key, validate=True)) == 16
        except ValueError:
            valid_key = False
        if not valid_key or key is None:
            raise WebSocketHandshakeError("missing or bad Sec-WebSocket-Key", response=_BAD_REQUEST)
        self.path = event.target.decode("latin-1")
        response = self._conn.send(
            h11.InformationalResponse(
                status_code=101,
                headers=[
                    (b"Upgrade", b"websocket"),
                    (b"Connection", b"Upgrade"),
                    (b"Sec-WebSocket-Accept", accept_token(key)),
                ],
                reason="Switching Protocols",
            )
        )
        assert response is not None
        trailing, _ = self._conn.trailing_data
        return response, bytes(trailing)
