"""StreamRecord: what the sans-IO Yamux core holds for one stream.

Its life is one :class:`~p2pstack.muxers.yamux.stream_state.StreamState`, changed only by
the core through the transition table; besides that it holds the receive buffer and the
flow-control windows.
"""

from __future__ import annotations

from collections import deque

from p2pstack.abc.budget import MemoryBudget
from p2pstack.errors import LimitExceeded
from p2pstack.muxers.yamux.frames import DEFAULT_WINDOW
from p2pstack.muxers.yamux.stream_state import (
    FIN_RECEIVED_STATES,
    FIN_SENT_STATES,
    FINAL_STATES,
    RESET_STATES,
    StreamState,
)

#: Auto-tuning doubles a stream's window when the previous update went out less than this
#: many round trips ago (go-yamux uses 4, rust-yamux 2).
AUTOTUNE_RTT_FACTOR = 4.0


class StreamRecord:
    """One stream of :class:`~p2pstack.muxers.yamux.core.YamuxCore`.

    Adapters read the attributes; only the core changes them. A record stays valid (and
    readable) after the core has forgotten the stream, or ended.

    Attributes:
        stream_id: the Yamux stream id.
        state: where the stream is in its life (see :mod:`.stream_state`).
        buffered: bytes received and not yet read by the application.
        recv_window: credit the peer still has for sending to us.
        recv_max: the stream's current receive window size (grows with auto-tuning).
        send_window: bytes we may still send.
        reserved: bytes of receive window reserved from the session's memory budget
            (released when the core forgets the stream, or it lingers after our close).
    """

    __slots__ = (
        "buffered",
        "chunks",
        "last_update_at",
        "recv_max",
        "recv_window",
        "reserved",
        "send_window",
        "state",
        "stream_id",
        "tuned",
    )

    def __init__(self, stream_id: int, *, now: float) -> None:
        self.stream_id = stream_id
        self.state = StreamState.OPEN
        self.chunks: deque[memoryview | bytes] = deque()
        self.buffered = 0
        self.recv_window = DEFAULT_WINDOW
        self.recv_max = DEFAULT_WINDOW
        self.tuned = 0
        self.reserved = 0
        self.last_update_at = now
        self.send_window = DEFAULT_WINDOW

    def __repr__(self) -> str:
        return (
            f"<StreamRecord id={self.stream_id} {self.state.name} buffered={self.buffered} "
            f"recv={self.recv_window}/{self.recv_max} send={self.send_window}>"
        )

    @property
    def is_reset(self) -> bool:
        """The stream was reset, by either side."""
        return self.state in RESET_STATES

    @property
    def reset_by_peer(self) -> bool:
        """The peer reset the stream."""
        return self.state is StreamState.RESET_REMOTE

    @property
    def fin_sent(self) -> bool:
        """We sent FIN: no more data from us."""
        return self.state in FIN_SENT_STATES

    @property
    def fin_received(self) -> bool:
        """The peer sent FIN: the buffered bytes are the last."""
        return self.state in FIN_RECEIVED_STATES

    @property
    def forgotten(self) -> bool:
        """The stream's life is over: the core no longer tracks it."""
        return self.state in FINAL_STATES

    def take(self, max_bytes: int) -> bytes:
        """Remove and return up to ``max_bytes`` buffered bytes (``b""`` if none).

        A first chunk that already is ``bytes`` and fits is returned without copying.
        """
        chunks = self.chunks
        if not chunks:
            return b""
        first = chunks[0]
        size = len(first)
        if size >= max_bytes or len(chunks) == 1:
            if size <= max_bytes:
                chunks.popleft()
            else:
                chunks[0] = memoryview(first)[max_bytes:]
                first = memoryview(first)[:max_bytes]
                size = max_bytes
            self.buffered -= size
            return first if type(first) is bytes else bytes(first)
        parts = [chunks.popleft()]
        total = size
        while chunks and total < max_bytes:
            chunk = chunks[0]
            room = max_bytes - total
            if len(chunk) > room:
                chunks[0] = memoryview(chunk)[room:]
                chunk = memoryview(chunk)[:room]
            else:
                chunks.popleft()
            parts.append(chunk)
            total += len(chunk)
        self.buffered -= total
        return b"".join(parts)

    def discard(self) -> bool:
        """Drop all buffered bytes; return True if there were any."""
        had = self.buffered > 0
        self.chunks.clear()
        self.buffered = 0
        return had

    def window_credit(
        self, now: float, rtt: float | None, max_window: int, budget: int, memory: MemoryBudget
    ) -> int:
        """Credit to return to the peer now (0 while less than half the window is owed).

        Applies auto-tuning: when the previous update went out less than
        ``AUTOTUNE_RTT_FACTOR * rtt`` ago, the window doubles, up to ``max_window`` and by at
        most ``budget`` bytes, if ``memory`` grants the growth (else it stays). The caller
        accounts ``tuned`` growth against its budget; the growth is added to ``reserved``.
        """
        owed = self.recv_max - self.recv_window - self.buffered
        if owed < self.recv_max // 2:
            return 0
        if (
            rtt is not None
            and self.recv_max < max_window
            and now - self.last_update_at < AUTOTUNE_RTT_FACTOR * rtt
        ):
            grow = min(self.recv_max, max_window - self.recv_max, budget)
            if grow > 0:
                try:
                    memory.reserve_memory(grow)
                except LimitExceeded:
                    grow = 0
            if grow > 0:
                self.reserved += grow
                self.recv_max += grow
                self.tuned += grow
                owed += grow
        self.recv_window += owed
        self.last_update_at = now
        return owed
