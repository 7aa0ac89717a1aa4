"""multistream-select 1.0 message framing (pure).

A message is ``uvarint(len(text) + 1) || utf8(text) || "\\n"``. Protocol ids start with ``/``;
``na`` and ``ls`` are the only other tokens. An ``ls`` answer is one message whose payload is
the concatenation of one message per protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from p2pstack.errors import InvalidConfigError, MessageTooLarge, MultistreamError
from p2pstack.varint import decode_uvarint, encode_uvarint

PROTOCOL_ID: Final = "/multistream/1.0.0"
"""The header both sides send first."""
NA: Final = "na"
"""The listener's answer to a proposal it does not support."""
LS: Final = "ls"
"""The dialer's request for the listener's protocol list."""

MAX_MESSAGE_SIZE: Final = 1024
"""Largest length prefix accepted (text plus newline), as go-multistream enforces."""
MAX_LS_RESPONSE_SIZE: Final = 16383
"""Largest ``ls`` answer accepted or sent (rust-libp2p's limit: a two-byte varint)."""
MAX_LS_PROTOCOLS: Final = 1000
"""Most protocols accepted in one ``ls`` answer (rust-libp2p's limit)."""

_NEWLINE: Final = 0x0A


def is_protocol_id(text: str) -> bool:
    """Whether ``text`` is a well-formed protocol id: starts with ``/``, has no newline."""
    return text.startswith("/") and "\n" not in text


def validate_protocol_id(protocol: str) -> None:
    """Check a protocol id supplied by our own side.

    Raises:
        InvalidConfigError: not a str, not a well-formed id, or too long for one message.
    """
    if not isinstance(protocol, str) or not is_protocol_id(protocol):
        raise InvalidConfigError(f"invalid protocol id {protocol!r}: must start with '/'")
    try:
        size = len(protocol.encode("utf-8")) + 1
    except UnicodeEncodeError as exc:
        raise InvalidConfigError(f"protocol id {protocol!r} is not valid UTF-8") from exc
    if size > MAX_MESSAGE_SIZE:
        raise InvalidConfigError(f"protocol id of {size} bytes exceeds {MAX_MESSAGE_SIZE}")


def encode_message(text: str) -> bytes:
    """Frame one token: a protocol id, ``na``, ``ls`` or the header.

    Raises:
        InvalidConfigError: ``text`` is neither ``na``/``ls`` nor a valid protocol id.
    """
    if text not in (NA, LS):
        validate_protocol_id(text)
    payload = text.encode("utf-8")
    return encode_uvarint(len(payload) + 1) + payload + b"\n"


def parse_message(
    data: bytes | bytearray | memoryview, offset: int = 0, max_size: int = MAX_MESSAGE_SIZE
) -> tuple[bytes, int] | None:
    """Parse one message at ``data[offset:]``.

    Returns ``(payload_without_newline, end_offset)``, or ``None`` if more bytes are needed.
    The size is checked as soon as the prefix is complete, so an oversized message is
    rejected before its body arrives.

    Raises:
        VarintError: malformed length prefix.
        MessageTooLarge: the prefix announces more than ``max_size`` bytes.
        MultistreamError: the message is empty or does not end in a newline.
    """
    head = decode_uvarint(data, offset)
    if head is None:
        return None
    length, start = head
    if length > max_size:
        raise MessageTooLarge(f"multistream message of {length} bytes exceeds {max_size}")
    if length == 0:
        raise MultistreamError("empty multistream message (missing newline)")
    end = start + length
    if len(data) < end:
        return None
    if data[end - 1] != _NEWLINE:
        raise MultistreamError("multistream message does not end with a newline")
    return bytes(data[start : end - 1]), end


def decode_text(payload: bytes) -> str:
    """Decode a message payload as UTF-8. Raises :class:`MultistreamError`."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise MultistreamError(f"multistream message is not UTF-8: {payload[:64]!r}") from None


def encode_ls_response(protocols: Iterable[str]) -> bytes:
    """Frame the answer to ``ls``, keeping as many protocols as fit the size limits."""
    body = bytearray()
    for count, protocol in enumerate(protocols):
        message = encode_message(protocol)
        if count >= MAX_LS_PROTOCOLS or len(body) + len(message) + 1 > MAX_LS_RESPONSE_SIZE:
            break
        body += message
    return encode_uvarint(len(body) + 1) + bytes(body) + b"\n"


def decode_ls_response(payload: bytes) -> list[str]:
    """Decode the payload of an ``ls`` answer (the outer newline already stripped).

    Raises:
        MultistreamError: malformed list, invalid protocol id or too many entries.
        MessageTooLarge, VarintError: a malformed entry.
    """
    protocols: list[str] = []
    pos = 0
    while pos < len(payload):
        parsed = parse_message(payload, pos)
        if parsed is None:
            raise MultistreamError("truncated entry in the ls answer")
        entry, pos = parsed
        text = decode_text(entry)
        if not is_protocol_id(text):
            raise MultistreamError(f"invalid protocol id {text[:100]!r} in the ls answer")
        protocols.append(text)
        if len(protocols) > MAX_LS_PROTOCOLS:
            raise MultistreamError(f"ls answer lists more than {MAX_LS_PROTOCOLS} protocols")
    return protocols
