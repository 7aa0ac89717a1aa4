"""Typed failures of request-response, on the requesting and on the serving side.

Every error is a :class:`~p2pstack.errors.StackError`; :class:`RequestResponseError` is their
common base so callers can catch "this request failed" in one clause.
"""

from __future__ import annotations

from p2pstack.errors import (
    DecodeError,
    MessageTooLarge,
    ProtocolError,
    StackError,
    UnexpectedEOF,
)


class RequestResponseError(StackError):
    """Base of every request-response failure."""


class MemoryRefused(RequestResponseError):
    """A request or response body did not fit in the memory budget of its stream (or of
    the peer, the protocol or the node): the resource manager refused to hold it."""


class RequestTimeout(RequestResponseError):
    """No response arrived within the request timeout (or the application did not answer)."""


class DialFailure(RequestResponseError):
    """The peer could not be reached; ``__cause__`` is the node's DialError."""


class ConnectionDropped(RequestResponseError):
    """The connection ended while the request was in flight."""


class UnsupportedProtocols(RequestResponseError):
    """The peer serves none of the request-response protocol ids offered."""


class NotPermitted(RequestResponseError):
    """A firewall refused the request: ours (outbound) or the peer's (inbound)."""


class ResponseOmitted(RequestResponseError):
    """The responder failed, dropped the request, or reset the stream without answering."""


class BodyTooLarge(MessageTooLarge, RequestResponseError):
    """A request or response body exceeds its configured size limit.

    Raised before the message is sent (``remote=False``), or as soon as a received length
    prefix announces too many bytes (``remote=True``), without reading the body.
    """


class CodecError(DecodeError, RequestResponseError):
    """A codec could not encode or decode a message (``remote`` tells whose bytes)."""


class MalformedMessage(ProtocolError, RequestResponseError):
    """The peer's bytes are not one well-formed length-prefixed message."""


class TruncatedMessage(MalformedMessage, UnexpectedEOF):
    """The stream ended inside a message."""


class TrailingData(MalformedMessage):
    """Bytes followed the single message of a stream direction."""
