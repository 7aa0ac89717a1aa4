"""The events :class:`~p2pstack.muxers.yamux.core.YamuxCore` produces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Event:
    """Base class of the core's events."""


@dataclass(slots=True)
class StreamOpened(Event):
    """The peer opened a stream; it waits in the accept backlog."""

    stream_id: int


@dataclass(slots=True)
class StreamEstablished(Event):
    """The peer answered one of our streams (its outbound backlog slot is free)."""

    stream_id: int


@dataclass(slots=True)
class DataReceived(Event):
    """Payload bytes were buffered for a stream."""

    stream_id: int
    length: int


@dataclass(slots=True)
class WindowUpdated(Event):
    """A stream's send window grew."""

    stream_id: int


@dataclass(slots=True)
class StreamEnded(Event):
    """The peer half-closed a stream (FIN)."""

    stream_id: int


@dataclass(slots=True)
class StreamReset(Event):
    """The peer reset a stream (RST)."""

    stream_id: int


@dataclass(slots=True)
class StreamClosed(Event):
    """The core forgot a stream: its id and its ``max_streams`` slot are free."""

    stream_id: int


@dataclass(slots=True)
class PingAcknowledged(Event):
    """The peer answered our ping ``opaque``; ``rtt`` is in seconds."""

    opaque: int
    rtt: float


@dataclass(slots=True)
class GoAwayReceived(Event):
    """The peer sent GoAway(0): it opens no new streams and accepts none of ours."""

    code: int


@dataclass(slots=True)
class ConnectionTerminated(Event):
    """The session ended; ``error`` is the reason (also ``YamuxCore.terminated``)."""

    error: BaseException
