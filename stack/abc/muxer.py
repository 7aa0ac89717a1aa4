"""The stream-muxer contract the node uses.

A :class:`StreamMuxer` turns a secured connection into a :class:`MuxedSession`. The node
starts ``await nursery.start(session.run)``; from then on it opens and accepts
:class:`MuxedStream` objects until the session ends.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol

import trio

from p2pstack.abc.budget import MemoryBudget
from p2pstack.role import Role


class MuxedStream(trio.abc.HalfCloseableStream):
    """One bidirectional stream of a muxed session.

    Its methods raise only trio's ``ClosedResourceError`` (closed by us),
    ``BrokenResourceError`` (reset by the peer or session ended; ``__cause__`` says why) and
    ``BusyResourceError`` (two tasks sending, or two receiving, at once).
    """

    @property
    @abstractmethod
    def stream_id(self) -> int:
        """The muxer's id of this stream."""

    @abstractmethod
    async def reset(self) -> None:
        """Abort the stream in both directions (the peer sees a reset). Idempotent."""


class MuxedSession(Protocol):
    """A running muxer session over one connection."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the session; call ``task_status.started()`` once running.

        Returns normally when the session ends, whatever the reason (local close, peer
        hang-up, protocol violation, keepalive timeout); the reason is in ``close_reason``.
        Cancelling it closes the session.
        """
        ...

    async def open_stream(self) -> MuxedStream:
        """Open a new outbound stream.

        Waits while too many opened streams await the peer's answer. Raises
        ``LimitExceeded`` (local stream limit) or the muxer's ``SessionClosed`` error.
        """
        ...

    async def accept_stream(self) -> MuxedStream:
        """Return the next inbound stream.

        Raises ``trio.EndOfChannel`` once the session is closed (or the peer announced it
        opens no more streams) and no accepted-but-unreturned stream remains.
        """
        ...

    async def ping(self) -> float:
        """Measure one round-trip time, in seconds."""
        ...

    async def aclose(self) -> None:
        """Say goodbye (GoAway), flush and close the transport; idempotent."""
        ...

    @property
    def is_closed(self) -> bool:
        """True once the session has ended (no new streams in either direction)."""
        ...

    async def wait_closed(self) -> None:
        """Wait until the session has ended and its transport is closed."""
        ...

    @property
    def close_reason(self) -> BaseException | None:
        """None while open; afterwards the exception describing why the session ended."""
        ...

    @property
    def num_streams(self) -> int:
        """Streams currently open (including half-closed and not yet accepted ones)."""
        ...


class StreamMuxer(Protocol):
    """A muxer factory: ``protocol_id`` is negotiated, ``new_session`` wraps a connection."""

    protocol_id: str

    def new_session(
        self, stream: trio.abc.Stream, *, role: Role, memory: MemoryBudget | None = None
    ) -> MuxedSession:
        """Create (not start) a session over ``stream``; ``role`` is ``Role.INITIATOR`` on
        the side that dialled the connection (for Yamux: it takes the odd stream ids).

        ``memory`` (unlimited when None) is the budget the session reserves what the peer
        can make it hold from (Yamux: every byte of receive window it grants); the node
        passes the connection's resource scope.
        """
        ...
