"""The Yamux frame header codec (pure, no I/O).

A frame is a 12-byte big-endian header ``version u8, type u8, flags u16, stream_id u32,
length u32`` followed by ``length`` payload bytes for Data frames only. For WindowUpdate
frames ``length`` is a credit delta, for Ping an opaque value, for GoAway an error code.
"""

from __future__ import annotations

import struct
from enum import IntEnum, IntFlag
from typing import NamedTuple

from p2pstack.muxers.yamux.errors import FrameDecodeError

VERSION = 0
HEADER_SIZE = 12
#: The window every stream starts with on both sides (spec constant, 256 KiB).
DEFAULT_WINDOW = 256 * 1024
MAX_U32 = 0xFFFF_FFFF

HEADER = struct.Struct(">BBHII")


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
    return HEADER.pack(VERSION, type, flags, stream_id, length)


def check_version_and_type(version: int, type: int) -> None:
    """Raise :class:`FrameDecodeError` unless ``version`` is 0 and ``type`` is known."""
    if version != VERSION:
        raise FrameDecodeError(f"unsupported yamux version {version}")
    if type > FrameType.GO_AWAY:
        raise FrameDecodeError(f"unknown yamux frame type {type}")


def decode_header(data: bytes | bytearray | memoryview, offset: int = 0) -> Header:
    """Decode the header at ``data[offset:offset + 12]``.

    Raises:
        FrameDecodeError: fewer than 12 bytes, a version other than 0 or an unknown type.
    """
    if len(data) - offset < HEADER_SIZE or offset < 0:
        raise FrameDecodeError("truncated yamux header")
    version, type, flags, stream_id, length = HEADER.unpack_from(data, offset)
    check_version_and_type(version, type)
    return Header(FrameType(type), Flag(flags), stream_id, length)
