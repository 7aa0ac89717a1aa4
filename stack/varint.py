"""Multiformats unsigned varints (minimal LEB128, at most 9 bytes) and length prefixes.

Pure functions: no I/O. Decoders raise :class:`~p2pstack.errors.VarintError` on malformed input
and report truncated input by returning ``None`` so callers can wait for more bytes.
"""

from __future__ import annotations

from p2pstack.errors import MessageTooLarge, VarintError

MAX_VARINT_LEN = 9
"""The multiformats spec caps unsigned varints at 9 bytes (63 bits)."""

MAX_VARINT_VALUE = (1 << 63) - 1


def encode_uvarint(value: int) -> bytes:
    """Encode a non-negative integer below 2**63 as a minimal unsigned varint."""
    if value < 0 or value > MAX_VARINT_VALUE:
        raise ValueError(f"uvarint out of range: {value}")
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_uvarint(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int] | None:
    """Decode one varint at ``data[offset:]``.

    Returns ``(value, end_offset)``, or ``None`` when ``data`` ends before the varint does.

    Raises:
        VarintError: the varint is longer than 9 bytes or not minimally encoded.
    """
    value = 0
    shift = 0
    end = len(data)
    pos = offset
    while pos < end:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and pos - offset > 1:
                raise VarintError("non-minimal varint encoding")
            return value, pos
        shift += 7
        if pos - offset >= MAX_VARINT_LEN:
            raise VarintError(f"varint longer than {MAX_VARINT_LEN} bytes")
    return None


def decode_uvarint_exact(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int]:
    """Like :func:`decode_uvarint` but treats truncated input as an error."""
    result = decode_uvarint(data, offset)
    if result is None:
        raise VarintError("truncated varint")
    return result


def length_prefixed(payload: bytes | bytearray | memoryview) -> bytes:
    """Return ``uvarint(len(payload)) || payload``."""
    return encode_uvarint(len(payload)) + bytes(payload)


def split_length_prefixed(
    data: bytes | bytearray | memoryview, max_size: int, offset: int = 0
) -> tuple[bytes, int] | None:
    """Parse one length-prefixed message at ``data[offset:]``.

    Returns ``(message, end_offset)`` or ``None`` if more bytes are needed. The size is checked
    against ``max_size`` as soon as the prefix is read, before waiting for the body.

    Raises:
        VarintError: malformed length prefix.
        MessageTooLarge: the prefix announces more than ``max_size`` bytes.
    """
    head = decode_uvarint(data, offset)
    if head is None:
        return None
    length, pos = head
    if length > max_size:
        raise MessageTooLarge(f"message of {length} bytes exceeds the limit of {max_size}")
    if len(data) - pos < length:
        return None
    return bytes(data[pos : pos + length]), pos + length
