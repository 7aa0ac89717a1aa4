"""Yamux error types.

Protocol violations by the peer are :class:`YamuxProtocolError` subclasses; their
``error_code`` is the GoAway code we send before ending the session. The other classes are
the reasons a session or stream ended (``YamuxSession.close_reason``, or the ``__cause__`` of
the ``trio.BrokenResourceError`` a stream method raises).
"""

from __future__ import annotations

from p2pstack.errors import DecodeError, ProtocolError, StackError

GO_AWAY_NORMAL = 0
GO_AWAY_PROTOCOL_ERROR = 1
GO_AWAY_INTERNAL_ERROR = 2


class YamuxError(StackError):
    """Root of the non-protocol Yamux errors."""


class YamuxProtocolError(ProtocolError):
    """The Yamux protocol was violated; the session answers with GoAway(``error_code``)."""

    error_code = GO_AWAY_PROTOCOL_ERROR


class FrameDecodeError(DecodeError, YamuxProtocolError):
    """A frame header is malformed (bad version or type, or truncated)."""


class StreamIdError(YamuxProtocolError):
    """A SYN used the wrong stream id parity, id 0, or the id of a live stream."""


class WindowExceededError(YamuxProtocolError):
    """The peer sent more data than the receive window it was granted."""


class SessionClosed(YamuxError):
    """The session is closed (or going away) and cannot open new streams."""


class RemoteGoAway(YamuxError):
    """The peer sent GoAway with an error ``code`` and ended the session."""

    def __init__(self, code: int) -> None:
        super().__init__(f"the peer sent GoAway with error code {code}")
        self.code = code


class ConnectionLost(YamuxError):
    """The underlying transport reached EOF or failed (see ``__cause__``)."""


class KeepAliveTimeout(YamuxError):
    """A ping of ours went unanswered, and nothing arrived from the peer, for
    ``keepalive_timeout`` seconds."""


class WriteTimeout(YamuxError):
    """A write to the transport did not finish within ``write_timeout`` seconds (the peer
    stopped reading, or vanished)."""


class StreamResetError(YamuxError):
    """The stream was reset; ``remote`` tells whether the peer sent the RST."""

    def __init__(self, stream_id: int, *, remote: bool) -> None:
        side = "the peer" if remote else "us"
        super().__init__(f"yamux stream {stream_id} was reset by {side}")
        self.stream_id = stream_id
        self.remote = remote
