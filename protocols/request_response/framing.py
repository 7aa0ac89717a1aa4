"""Sans-IO framing of one request-response stream direction: ``uvarint(len) || body``.

This is py-libp2p's RequestResponse framing (one length-prefixed message each way).
p2pstack adds one reserved signal, :data:`REJECTION`: the two bytes ``80 00``, a
*non-minimal* uvarint for zero that no conforming encoder emits. A responder whose firewall
refuses a request sends it in place of the response and closes; our requester raises
``NotPermitted``. A lenient decoder (py-libp2p's) reads it as a zero-length body and fails
at once instead of hanging (py-libp2p 0.8.1 raises RequestTransportError; an empty body
is not valid JSON either).

:class:`FrameDecoder` never buffers more than it asks for: :meth:`FrameDecoder.wanted`
tells the adapter how many bytes to read next, and the size limit is checked as soon as
the length prefix is complete, before any body byte is awaited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, final

from p2pstack.errors import ProtocolError, VarintError
from p2pstack.protocols.request_response.errors import (
    BodyTooLarge,
    MalformedMessage,
    TrailingData,
    TruncatedMessage,
)
from p2pstack.varint import MAX_VARINT_LEN, decode_uvarint, encode_uvarint

REJECTION: Final = b"\x80\x00"
"""Sent instead of a response when the responder's firewall refuses the request."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A complete message body arrived."""

    body: bytes


@dataclass(frozen=True, slots=True)
class RejectionReceived:
    """The responder sent :data:`REJECTION` instead of a response."""


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The peer closed its side cleanly before starting a message."""


FrameEvent = MessageReceived | RejectionReceived | StreamEnded


def encode_message(body: bytes, max_size: int) -> bytes:
    """Frame ``body``.

    Raises:
        BodyTooLarge: ``len(body) > max_size`` (``remote=False``).
    """
    if len(body) > max_size:
        raise BodyTooLarge(
            f"message of {len(body)} bytes exceeds the limit of {max_size}", remote=False
        )
    return encode_uvarint(len(body)) + body


@final
class FrameDecoder:
    """Decodes the single message of one stream direction.

    Feed bytes with :meth:`receive_data` (``None`` for end of stream); it returns the
    events completed so far. After a message, only EOF may follow. Once it raised, the
    decoder stays broken (every later call raises the same error).

    Args:
        max_size: the largest body accepted.
        accept_rejection: recognise :data:`REJECTION` (a requester decoding a response).
    """

    def __init__(self, max_size: int, *, accept_rejection: bool = False) -> None:
        if max_size < 0:
            raise ValueError("max_size must not be negative")
        self.max_size = max_size
        self.accept_rejection = accept_rejection
        self._buffer = bytearray()
        self._length: int | None = None
        self._done = False
        self._ended = False
        self._error: ProtocolError | None = None

    @property
    def done(self) -> bool:
        """True once a message (or rejection) was decoded."""
        return self._done

    def wanted(self) -> int:
        """How many more bytes could be useful now (at least 1 until the stream ended)."""
        if self._ended:
            return 0
        if self._done:
            return 1  # only to detect trailing bytes or EOF
        if self._length is None:  # the prefix and the largest body that may follow it
            return max(1, MAX_VARINT_LEN + self.max_size - len(self._buffer))
        return self._length - len(self._buffer)

    def receive_data(self, data: bytes | None) -> list[FrameEvent]:
        """Consume ``data`` (``None`` = the peer closed its side).

        Raises:
            BodyTooLarge: the length prefix announces more than ``max_size`` bytes.
            MalformedMessage: a bad length prefix, or (subclasses) TruncatedMessage when
                the stream ended inside a message and TrailingData when bytes followed it.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._receive(data)
        except ProtocolError as exc:
            self._error = exc
            raise

    def _receive(self, data: bytes | None) -> list[FrameEvent]:
        if self._ended:
            return []
        if data is None:
            self._ended = True
            if self._done:
                return []
            if not self._buffer and self._length is None:
                return [StreamEnded()]
            raise TruncatedMessage("the stream ended inside a length-prefixed message")
        if self._done:
            if data:
                raise TrailingData(f"{len(data)} unexpected bytes after the message")
            return []
        self._buffer += data
        events: list[FrameEvent] = []
        if self._length is None:
            if self.accept_rejection and self._buffer[: len(REJECTION)] == REJECTION:
                del self._buffer[: len(REJECTION)]
                self._done = True
                return self._after_message([RejectionReceived()])
            if self.accept_rejection and self._buffer == REJECTION[:1]:
                return events  # could still become the rejection marker
            try:
                head = decode_uvarint(self._buffer)
            except VarintError as exc:
                raise MalformedMessage(f"bad length prefix: {exc}") from exc
            if head is None:
                return events
            length, end = head
            if length > self.max_size:
                raise BodyTooLarge(
                    f"message of {length} bytes exceeds the limit of {self.max_size}"
                )
            self._length = length
            del self._buffer[:end]
        if len(self._buffer) < self._length:
            return events
        body = bytes(self._buffer[: self._length])
        del self._buffer[: self._length]
        self._done = True
        return self._after_message([MessageReceived(body)])

    def _after_message(self, events: list[FrameEvent]) -> list[FrameEvent]:
        if self._buffer:
            raise TrailingData(f"{len(self._buffer)} unexpected bytes after the message")
        return events
