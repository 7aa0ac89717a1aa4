"""The Yamux frame codec (pure, no I/O): the one the core encodes and decodes with.

A frame is a 12-byte big-endian header ``version u8, type u8, flags u16, stream_id u32,
length u32`` followed by ``length`` payload bytes for Data frames only. For WindowUpdate
frames ``length`` is a credit delta, for Ping an opaque value, for GoAway an error code.

Two levels: :func:`encode_header` / :func:`decode_header` check every field and return enums
(for tests and tools); the frame builders (:func:`data_header`, :func:`window_update`,
:func:`ping_frame`, :func:`go_away_frame`) and :func:`unpack_header` are the wire path's fast
forms: one precompiled ``struct`` call, plain ints, and only the checks a decoder of remote
bytes needs (the builders trust their callers, which keep ids and lengths in range).
"""

from __future__ import annotations

import struct
from enum import IntEnum, IntFlag
from typing import Final, NamedTuple

from p2pstack.muxers.yamux.errors import FrameDecodeError

VERSION: Final = 0
HEADER_SIZE: Final = 12
#: The window every stream starts with on both sides (spec constant, 256 KiB).
DEFAULT_WINDOW: Final = 256 * 1024
MAX_U32: Final = 0xFFFF_FFFF

HEADER: Final = struct.Struct(">BBHII")


class FrameType(IntEnum):
    """Frame types (header byte 1)."""

    DATA = 0
    WINDOW_UPDATE = 1
    PING = 2
    GO_AWAY = 3


class Flag(IntFlag):
    """Header flags (bytes 2-3). Unknown bits are ignored on receive."""

    NONE = 0
    SYN = 0x1
    ACK = 0x2
    FIN = 0x4
    RST = 0x8


# Plain-int forms of the enums for the per-frame code (an enum member lookup costs more).
DATA: Final = int(FrameType.DATA)
WINDOW_UPDATE: Final = int(FrameType.WINDOW_UPDATE)
PING: Final = int(FrameType.PING)
GO_AWAY: Final = int(FrameType.GO_AWAY)
SYN: Final = int(Flag.SYN)
ACK: Final = int(Flag.ACK)
FIN: Final = int(Flag.FIN)
RST: Final = int(Flag.RST)

_pack = HEADER.pack
_unpack_from = HEADER.unpack_from


class Header(NamedTuple):
    """A decoded frame header."""

    type: FrameType
    flags: Flag
    stream_id: int
    length: int


def encode_header(type: FrameType, flags: Flag | int, stream_id: int, length: int) -> bytes:
    """Encode a header. Raises ``ValueError`` when a field does not fit its width."""
    if not (0 <= flags <= 0xFFFF and 0 <= stream_id <= MAX_U32 and 0 <= length <= MAX_U32):
        raise ValueError("yamux header field out of range")
    return _pack(VERSION, type, flags, stream_id, length)


def check_version_and_type(version: int, type: int) -> None:
    """Raise :class:`FrameDecodeError` unless ``version`` is 0 and ``type`` is known."""
    if version != VERSION:
        raise FrameDecodeError(f"unsupported yamux version {version}")
    if type > GO_AWAY:
        raise FrameDecodeError(f"unknown yamux frame type {type}")


def unpack_header(
    data: bytes | bytearray | memoryview, offset: int = 0
) -> tuple[int, int, int, int]:
    """Decode the 12 bytes at ``offset`` (the caller checked there are 12) into plain ints
    ``(type, flags, stream_id, length)``.

    Raises:
        FrameDecodeError: a version other than 0 or an unknown type.
    """
    version, ftype, flags, stream_id, length = _unpack_from(data, offset)
    if version or ftype > GO_AWAY:
        check_version_and_type(version, ftype)
    return ftype, flags, stream_id, length


def decode_header(data: bytes | bytearray | memoryview, offset: int = 0) -> Header:
    """Decode the header at ``data[offset:offset + 12]``.

    Raises:
        FrameDecodeError: fewer than 12 bytes, a version other than 0 or an unknown type.
    """
    if len(data) - offset < HEADER_SIZE or offset < 0:
        raise FrameDecodeError("truncated yamux header")
    ftype, flags, stream_id, length = unpack_header(data, offset)
    return Header(FrameType(ftype), Flag(flags), stream_id, length)


def data_header(stream_id: int, length: int) -> bytes:
    """The header of a Data frame carrying ``length`` payload bytes (no flags)."""
    return _pack(VERSION, DATA, 0, stream_id, length)


def window_update(stream_id: int, flags: int, delta: int = 0) -> bytes:
    """A WindowUpdate frame: ``delta`` bytes of credit, with SYN/ACK/FIN/RST ``flags``."""
    return _pack(VERSION, WINDOW_UPDATE, flags, stream_id, delta)


def ping_frame(flags: int, opaque: int) -> bytes:
    """A Ping (``SYN``) or its answer (``ACK``) carrying ``opaque``."""
    return _pack(VERSION, PING, flags, 0, opaque)


def go_away_frame(code: int) -> bytes:
    """A GoAway frame with error ``code`` (0: normal)."""
    return _pack(VERSION, GO_AWAY, 0, 0, code)


def frame_end(data: bytes | bytearray | memoryview, offset: int) -> int:
    """Where the frame whose (well-formed) header starts at ``offset`` ends: the header,
    plus the payload for Data frames."""
    end = offset + HEADER_SIZE
    if data[offset + 1] == DATA:
        end += int.from_bytes(data[offset + 8 : end], "big")
    return end
