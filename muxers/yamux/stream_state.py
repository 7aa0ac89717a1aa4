"""Per-stream state of the sans-IO Yamux core: receive buffer and flow-control windows."""

from __future__ import annotations

from collections import deque

from p2pstack.abc.budget import MemoryBudget
from p2pstack.errors import LimitExceeded
from p2pstack.muxers.yamux.frames import DEFAULT_WINDOW

#: Auto-tuning doubles a stream's window when the previous update went out less than this
#: many round trips ago (go-yamux uses 4, rust-yamux 2).
AUTOTUNE_RTT_FACTOR = 4.0


class StreamState:
    """The state of one stream, owned by :class:`~p2pstack.muxers.yamux.core.YamuxCore`.

    Adapters read the attributes; only the core mutates them. A state object stays valid
    (and readable) after the core has forgotten the stream.

    Attributes:
        stream_id: the Yamux stream id.
        outbound: True when we opened the stream.
        established: the peer has answered (any frame counts) or the stream is inbound.
        buffered: bytes received and not yet read by the application.
        recv_window: credit the peer still has for sending to us.
        recv_max: the stream's current receive window size (grows with auto-tuning).
        send_window: bytes we may still send.
        local_fin / remote_fin: FIN sent / received.
        reset: the stream was reset (``reset_by_peer`` says by whom).
        closed_locally: the application closed or reset the stream.
        removed: the core no longer tracks the stream (its id is free).
        reserved: bytes of receive window reserved from the session's memory budget
            (released when the core forgets the stream).
    """

    __slots__ = (
        "buffered",
        "chunks",
        "closed_locally",
        "established",
        "last_update_at",
        "local_fin",
        "outbound",
        "recv_max",
        "recv_window",
        "remote_fin",
        "removed",
        "reserved",
        "reset",
        "reset_by_peer",
        "rst_sent",
        "send_window",
        "stream_id",
        "tuned",
    )

    def __init__(self, stream_id: int, *, outbound: bool, now: float) -> None:
        self.stream_id = stream_id
        self.outbound = outbound
        self.established = not outbound
        self.chunks: deque[memoryview | bytes] = deque()
        self.buffered = 0
        self.recv_window = DEFAULT_WINDOW
        self.recv_max = DEFAULT_WINDOW
        self.tuned = 0
        self.reserved = 0
        self.last_update_at = now
        self.send_window = DEFAULT_WINDOW
        self.local_fin = False
        self.remote_fin = False
        self.reset = False
        self.reset_by_peer = False
        self.rst_sent = False
        self.closed_locally = False
        self.removed = False

    def __repr__(self) -> str:
        return (
            f"<StreamState id={self.stream_id} buffered={self.buffered} "
            f"recv={self.recv_window}/{self.recv_max} send={self.send_window} "
            f"fin={self.local_fin}/{self.remote_fin} reset={self.reset}>"
        )

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
