"""WritePath: the output side of a Yamux session, from the core's queue to the transport.

Application tasks call the core synchronously, then :meth:`WritePath.sync` (queue the core's
output, dispatch its events) and :meth:`WritePath.flush`: they write the queue to the
transport themselves when no other write is in progress (no task switch per frame);
otherwise the task that is writing sends it. Writes are atomic (cancel-shielded where the
transport has no atomic send), so a cancelled task never leaves half a frame on the wire.
Output of the session's own task (window updates, pongs, pings) goes to a writer task
instead, started in the session's nursery (:meth:`WritePath.attach`) when there is such output
and no write in progress, and ending once the queue is empty (an idle session runs none): the
reader never blocks on a write, so both peers keep draining each other. Senders blocked on
the queue are woken one at a time, in order, while there is room (no thundering herd).

Bounds: pings and ping answers stay in the core (at most ``ping_backlog`` answers) and are
written ahead of queued stream frames, before every write of at most :data:`WRITE_PIECE`
bytes; each write is watched by the core's ``write_timeout``. Application writes wait while
:data:`SEND_HIGH_WATER` bytes are queued; the session's transport reads pause while
:data:`OUTPUT_LIMIT` bytes are queued (frames the peer makes us send, such as resets of
refused streams, cannot pile up when it does not read).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, final

import trio
from trio.lowlevel import ParkingLot

from p2pstack.errors import StackError
from p2pstack.muxers.yamux.core import YamuxCore
from p2pstack.muxers.yamux.events import YamuxEvent
from p2pstack.muxers.yamux.frames import frame_end
from p2pstack.stream_ops import Buffer, atomic_send_of

#: Application writes wait while this much output is queued or in flight.
SEND_HIGH_WATER = 1024 * 1024
#: Transport reads pause while this much output is queued (application writes stop at
#: ``SEND_HIGH_WATER`` plus one chunk; the rest is frames the peer made us queue).
OUTPUT_LIMIT = 4 * 1024 * 1024
#: Larger output items are written in pieces of at most this size (or one larger frame), cut
#: at frame boundaries: each write must finish within ``write_timeout``, and pings and their
#: answers go out between pieces. (256 KiB pieces cost ~12 % of 16-stream throughput.)
WRITE_PIECE = 1024 * 1024
#: Output items smaller than this are merged into one transport write.
COALESCE = 64 * 1024


class Sender(Protocol):
    """A stream that waits for room in the output queue."""

    def wake_sender(self) -> None:
        """Wake the task blocked sending on this stream (if any)."""


@final
class WritePath:
    """The output queue of one session and the writes that empty it.

    Args:
        core: the session's core (its output, control frames and write timeout).
        transport: where the output goes (see :meth:`use_transport`).
        on_events: receives the core's events on every :meth:`sync`.
        on_timer_change: called when the core's next deadline moved earlier.

    Attributes:
        out_bytes: bytes queued and not yet written.
        failed: a transport write failed (the queue and later output are dropped; the core
            reads a little longer, then terminates: :meth:`YamuxCore.write_failed`).
    """

    def __init__(
        self,
        core: YamuxCore,
        transport: trio.abc.Stream,
        *,
        on_events: Callable[[list[YamuxEvent]], None],
        on_timer_change: Callable[[], None],
    ) -> None:
        self._core = core
        self._keepalive = core.keepalive
        self._on_events = on_events
        self._on_timer_change = on_timer_change
        self._queue: list[bytes] = []
        self.out_bytes = 0
        self.failed = False
        self._writing = False
        self._atomic = False
        self._send: Callable[[Buffer], Awaitable[None]] = transport.send_all
        self.use_transport(transport)
        self._nursery: trio.Nursery | None = None
        self._writer_running = False
        # created on first use (an idle session has none)
        self._idle_lot: ParkingLot | None = None
        self._drained_lot: ParkingLot | None = None
        self._drain_waiters: list[Sender] = []

    @property
    def writing(self) -> bool:
        """A transport write is in progress."""
        return self._writing

    @property
    def has_room(self) -> bool:
        """Less than :data:`SEND_HIGH_WATER` bytes are queued: application writes may go on."""
        return self.out_bytes < SEND_HIGH_WATER

    @property
    def backed_up(self) -> bool:
        """:data:`OUTPUT_LIMIT` bytes are queued: the session should stop reading."""
        return self.out_bytes >= OUTPUT_LIMIT

    def use_transport(self, transport: trio.abc.Stream) -> None:
        """Write to ``transport`` from now on: atomically where it can, else shielded."""
        atomic_send = atomic_send_of(transport)
        self._atomic = atomic_send is not None
        self._send = atomic_send or transport.send_all

    # ---- for the session's tasks and its streams ------------------------------------------

    def sync(self, *, direct: bool = False) -> None:
        """Dispatch the core's events and queue its output.

        A writer task is started for the output unless ``direct`` (the caller then awaits
        :meth:`flush`) or a write is in progress (its task sends the queue).
        """
        core = self._core
        events = core.next_events()
        if events:
            self._on_events(events)
        out = core.data_to_send(control=False)
        if self.failed:  # nothing is written any more
            out = []
        if out:
            data = out[0] if len(out) == 1 and type(out[0]) is bytes else b"".join(out)
            self._queue.append(data)
            self.out_bytes += len(data)
        if (
            (out or self._keepalive.has_control)
            and not direct
            and not self._writing
            and not self._writer_running
            and not self.failed
        ):
            self._start_writer()
        if core.timer_dirty:
            self._on_timer_change()

    async def flush(self) -> bool:
        """Write the queued output from the calling task unless another write is in progress;
        return True if this task wrote (its write was a schedule point).

        Never interrupted by cancellation, so frames are never torn. Output queued meanwhile by
        other tasks is left to the writer task, which bounds the caller's work.
        """
        if self._writing or not (self._queue or self._keepalive.has_control) or self.failed:
            return False
        self._writing = True
        try:
            if self._atomic:
                await self._write_queued(once=True)
            else:
                with trio.CancelScope(shield=True):
                    await self._write_queued(once=True)
        finally:
            self._writing = False
        if self._queue or self._keepalive.has_control:
            self._start_writer()
        return True

    def wait_for_drain(self, stream: Sender) -> None:
        """Queue ``stream`` to be woken, in order, when the queue drops below the high water
        mark."""
        if stream not in self._drain_waiters:
            self._drain_waiters.append(stream)

    def forget_drain_waiter(self, stream: Sender) -> None:
        """``stream`` no longer waits for room."""
        if stream in self._drain_waiters:
            self._drain_waiters.remove(stream)

    def pass_drain_turn(self) -> None:
        """Wake the first blocked sender if there is room below the high water mark; after
        queueing its data it calls this again, so room is handed out one sender at a time."""
        if self._drain_waiters and self.out_bytes < SEND_HIGH_WATER:
            self._drain_waiters.pop(0).wake_sender()

    @property
    def num_drain_waiters(self) -> int:
        """Senders waiting for room."""
        return len(self._drain_waiters)

    async def wait_drained(self) -> None:
        """Wait until the queue has drained below half of :data:`OUTPUT_LIMIT` (or the session
        ended)."""
        if self._drained_lot is None:
            self._drained_lot = ParkingLot()
        await self._drained_lot.park()

    async def wait_idle(self) -> None:
        """Wait until nothing is queued, or a write failed."""
        while self.out_bytes and not self.failed:
            if self._idle_lot is None:
                self._idle_lot = ParkingLot()
            await self._idle_lot.park()

    def session_ended(self) -> None:
        """Wake every task waiting for the queue: the session is over."""
        self._wake_drain_waiters()
        if self._drained_lot:
            self._drained_lot.unpark_all()

    def attach(self, nursery: trio.Nursery | None) -> None:
        """Start writer tasks in ``nursery`` from now on (None: no more; the session's task
        detaches before its nursery closes). Output already queued gets one now."""
        self._nursery = nursery
        if nursery is not None and (self._queue or self._keepalive.has_control):
            self._start_writer()

    def _start_writer(self) -> None:
        if self._nursery is not None and not self._writer_running and not self._writing:
            self._writer_running = True
            self._nursery.start_soon(self._run_writer)

    async def _run_writer(self) -> None:
        """A writer task: send output queued by tasks that do not write themselves, until
        the queue is empty or another task writes (it starts a writer again if it leaves
        output behind)."""
        try:
            while (self._queue or self._keepalive.has_control) and not (
                self._writing or self.failed
            ):
                self._writing = True
                try:
                    await self._write_queued(once=False)
                finally:
                    self._writing = False
        finally:
            self._writer_running = False

    # ---- writing -------------------------------------------------------------------------

    async def _write_queued(self, *, once: bool) -> None:
        """Send the queue (a snapshot of it if ``once``), each piece preceded by the waiting
        control frames; the caller holds ``_writing``."""
        core = self._core
        write = self._write
        try:
            while True:
                if self._keepalive.has_control:
                    await write(core.take_control(trio.current_time()))
                if not self._queue:
                    break
                batch = self._queue
                self._queue = []
                for data in write_pieces(batch):
                    if self._keepalive.has_control:
                        await write(core.take_control(trio.current_time()))
                    await write(data)
                    self.out_bytes -= len(data)
                    if self._drain_waiters and self.out_bytes < SEND_HIGH_WATER:
                        self.pass_drain_turn()
                    if self._drained_lot and self.out_bytes < OUTPUT_LIMIT // 2:
                        self._drained_lot.unpark_all()
                if once:
                    break
        except (trio.BrokenResourceError, trio.ClosedResourceError, StackError) as exc:
            self.failed = True
            self._queue.clear()
            self.out_bytes = 0
            core.write_failed(exc, trio.current_time())  # still reads what came before
            self.sync()
            self.session_ended()
        if not self.out_bytes and self._idle_lot:
            self._idle_lot.unpark_all()

    async def _write(self, data: Buffer) -> None:
        """One transport write, watched by the core's ``write_timeout``."""
        core = self._core
        core.write_started(trio.current_time())
        if core.timer_dirty:
            self._on_timer_change()
        await self._send(data)
        core.write_finished()

    def _wake_drain_waiters(self) -> None:
        for stream in self._drain_waiters:
            stream.wake_sender()
        self._drain_waiters.clear()


def write_pieces(batch: list[bytes]) -> list[Buffer]:
    """The transport writes for ``batch``: small items merged, large ones split into views
    of at most :data:`WRITE_PIECE` bytes (or one larger frame) at frame boundaries, so that
    control frames may go between them. Every item holds whole frames."""
    pieces: list[Buffer] = []
    for item in _coalesce(batch):
        size = len(item)
        if size <= WRITE_PIECE:
            pieces.append(item)
            continue
        view = memoryview(item)
        start = pos = 0
        while pos < size:
            end = frame_end(item, pos)
            if end - start > WRITE_PIECE and pos > start:
                pieces.append(view[start:pos])
                start = pos
            pos = end
        pieces.append(view[start:size])
    return pieces


def _coalesce(batch: list[bytes]) -> list[bytes]:
    """Merge runs of small buffers so each transport write is large, without copying big
    buffers more than once."""
    if len(batch) == 1:
        return batch
    result: list[bytes] = []
    run: list[bytes] = []
    for item in batch:
        if len(item) < COALESCE:
            run.append(item)
            continue
        if run:
            result.append(b"".join(run) if len(run) > 1 else run[0])
            run = []
        result.append(item)
    if run:
        result.append(b"".join(run) if len(run) > 1 else run[0])
    return result
