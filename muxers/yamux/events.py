"""The events :class:`~p2pstack.muxers.yamux.core.YamuxCore` produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class YamuxEvent:
    """Base class of the core's events (immutable)."""


@dataclass(frozen=True, slots=True)
class InboundStreamOpened(YamuxEvent):
    """The peer opened a stream; it waits in the accept backlog."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamEstablished(YamuxEvent):
    """The peer answered one of our streams (its outbound backlog slot is free)."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class DataReceived(YamuxEvent):
    """Payload bytes were buffered for a stream."""

    stream_id: int
    length: int


@dataclass(frozen=True, slots=True)
class WindowUpdated(YamuxEvent):
    """A stream's send window grew."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamEndedByPeer(YamuxEvent):
    """The peer half-closed a stream (FIN)."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamResetByPeer(YamuxEvent):
    """The peer reset a stream (RST)."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamClosed(YamuxEvent):
    """The core forgot a stream: its id and its ``max_streams`` slot are free."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class PingAcknowledged(YamuxEvent):
    """The peer answered our ping ``opaque``; ``rtt`` is in seconds."""

    opaque: int
    rtt: float


@dataclass(frozen=True, slots=True)
class GoAwayReceived(YamuxEvent):
    """The peer sent GoAway(0): it opens no new streams and accepts none of ours."""

    code: int


@dataclass(frozen=True, slots=True)
class ConnectionTerminated(YamuxEvent):
    """The session ended; ``error`` is the reason (also ``YamuxCore.terminated``)."""

    error: BaseException
