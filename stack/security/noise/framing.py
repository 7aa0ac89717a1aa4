"""Noise message framing: ``BE16(len) || message`` with ``len <= 65535``. Pure functions."""

from __future__ import annotations

from typing import Final

MAX_MESSAGE_LEN: Final = 0xFFFF
"""Largest Noise message (handshake or transport), tag included."""
TAG_LEN: Final = 16
MAX_PLAINTEXT_LEN: Final = MAX_MESSAGE_LEN - TAG_LEN
"""65519: the most plaintext one transport frame can carry (go and js chunk at this size)."""


def encode_frame(message: bytes | bytearray) -> bytes:
    """Prefix ``message`` with its BE16 length. Raises ValueError above 65535 bytes."""
    if len(message) > MAX_MESSAGE_LEN:
        raise ValueError(f"Noise message of {len(message)} bytes exceeds {MAX_MESSAGE_LEN}")
    return len(message).to_bytes(2, "big") + bytes(message)


def split_frame(data: bytes | bytearray, offset: int = 0) -> tuple[bytes, int] | None:
    """Return ``(message, end_offset)`` for the frame at ``data[offset:]``; None if incomplete."""
    if len(data) - offset < 2:
        return None
    end = offset + 2 + int.from_bytes(data[offset : offset + 2], "big")
    if len(data) < end:
        return None
    return bytes(data[offset + 2 : end]), end
