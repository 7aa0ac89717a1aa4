"""The trio adapter over :class:`~p2pstack.muxers.yamux.core.YamuxCore`.

Large transport reads feed the core: a blocked receiver reads them itself when it can, else
the reader task does (see :mod:`.read_role`); one timer task drives keepalive pings.
Application tasks call the core synchronously, queue its output, and then write the queue to
the transport themselves when no other write is in progress (no task switch per frame);
otherwise the task that is writing sends it. Writes are atomic (cancel-shielded where the
transport has no atomic send), so a cancelled task never leaves half a frame on the wire (it
waits for its write to finish; the transport is closed when the session ends, which ends any
write). Output of the reader and timer tasks (window updates, pongs, pings) goes to a writer
task instead: the reader task never blocks on a write, so both peers keep draining each
other. Senders blocked on the session's output queue are woken one at a time, in order, while
there is room (no thundering herd).

Bounds: pings and ping answers stay in the core (at most ``ping_backlog`` answers) and are
written ahead of queued stream frames, before every write of at most :data:`WRITE_PIECE`
bytes. A write that does not finish within ``write_timeout`` ends the session
(``WriteTimeout``) and the transport is closed to end it. Application writes wait while
:data:`~.stream.SEND_HIGH_WATER` bytes are queued; reads of the transport pause while
:data:`OUTPUT_LIMIT` bytes are queued (frames the peer makes us send, such as resets of
refused streams, cannot pile up when it does not read).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import final

import trio
from trio.lowlevel import ParkingLot, cancel_shielded_checkpoint, checkpoint_if_cancelled

from p2pstack.abc.budget import MemoryBudget
from p2pstack.errors import ProtocolError, StackError
from p2pstack.muxers.yamux.config import YamuxConfig
from p2pstack.muxers.yamux.core import (
    ConnectionTerminated,
    Event,
    GoAwayReceived,
    PingAcknowledged,
    StreamClosed,
    StreamEstablished,
    StreamOpened,
    YamuxCore,
)
from p2pstack.muxers.yamux.errors import (
    ConnectionLost,
    KeepAliveTimeout,
    SessionClosed,
    WriteTimeout,
    YamuxProtocolError,
)
from p2pstack.muxers.yamux.frames import HEADER_SIZE, FrameType
from p2pstack.muxers.yamux.read_role import ReadRole
from p2pstack.muxers.yamux.stream import SEND_HIGH_WATER, YamuxStream
from p2pstack.stream_ops import Buffer, atomic_send_of, receive_is_cancel_safe, unwrap_method_of

logger = logging.getLogger("p2pstack.yamux")

#: Bytes asked of the transport per read: more than a secure transport's own read size plus
#: one frame, so a whole decrypted read is taken at once (no slicing copies below us).
RECEIVE_SIZE = 512 * 1024
#: Output items smaller than this are merged into one transport write.
_COALESCE = 64 * 1024
#: Larger output items are written in pieces of at most this size (or one larger frame), cut
#: at frame boundaries: each write must finish within ``write_timeout``, and pings and their
#: answers go out between pieces. (256 KiB pieces cost ~12 % of 16-stream throughput.)
WRITE_PIECE = 1024 * 1024
#: Transport reads pause while this much output is queued (application writes stop at
#: ``SEND_HIGH_WATER`` plus one chunk; the rest is frames the peer made us queue).
OUTPUT_LIMIT = 4 * 1024 * 1024


class _PingWaiter:
    __slots__ = ("event", "rtt")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.rtt: float | None = None


@final
class YamuxSession:
    """A Yamux session over a trio stream (implements ``MuxedSession``).

    Must be created inside ``trio.run``. Start it with ``await nursery.start(session.run)``.

    Args:
        transport: the secured connection; the session owns and closes it.
        is_initiator: True if we dialled (odd stream ids).
        config: the settings (defaults when None).
        memory: the budget the receive windows granted to the peer are reserved from
            (unlimited when None); see :class:`~.core.YamuxCore`.
    """

    def __init__(
        self,
        transport: trio.abc.Stream,
        *,
        is_initiator: bool,
        config: YamuxConfig | None = None,
        memory: MemoryBudget | None = None,
    ) -> None:
        self.config = config or YamuxConfig()
        self.read_role = ReadRole(self._read_once)
        """Which task reads the transport (used by the streams' ``receive_some``)."""
        self._adopt(transport)
        self._core = YamuxCore(
            self.config,
            is_initiator=is_initiator,
            now=trio.current_time(),
            logger=logger,
            memory=memory,
        )
        self._streams: dict[int, YamuxStream] = {}
        self._outq: list[bytes] = []
        self.out_bytes = 0
        self._writer_lot = ParkingLot()
        self._idle_lot = ParkingLot()
        self._drained_lot = ParkingLot()
        self._writing = False
        self._drain_waiters: deque[YamuxStream] = deque()
        self._accept_lot = ParkingLot()
        self._open_lot = ParkingLot()
        self._pings: dict[int, _PingWaiter] = {}
        self._timer_changed = trio.Event()
        self._ended = trio.Event()
        self._closed = trio.Event()
        self._started = False

    def __repr__(self) -> str:
        role = "initiator" if self._core.is_initiator else "responder"
        return f"<YamuxSession {role} streams={self.num_streams} closed={self.is_closed}>"

    # ---- public API ----------------------------------------------------------------------

    @property
    def core(self) -> YamuxCore:
        """The sans-IO state machine (read-only use: rtt, counters)."""
        return self._core

    @property
    def is_closed(self) -> bool:
        """True once the session has ended."""
        return self._core.terminated is not None

    @property
    def close_reason(self) -> BaseException | None:
        """None while open, else why it ended: ``SessionClosed`` (our ``aclose``),
        ``ConnectionLost`` (peer hung up), a ``YamuxProtocolError``, ``RemoteGoAway``,
        ``KeepAliveTimeout`` or ``WriteTimeout``."""
        return self._core.terminated

    @property
    def num_streams(self) -> int:
        """Streams currently tracked (open, half-closed, or waiting to be accepted)."""
        return self._core.num_streams

    async def wait_closed(self) -> None:
        """Wait until :meth:`run` has finished and the transport is closed."""
        await self._closed.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the session until it ends; never raises for peer behaviour.

        Raises:
            RuntimeError: ``run`` was called twice.
        """
        if self._started:
            raise RuntimeError("YamuxSession.run() was already called")
        self._started = True
        try:
            self._sync()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_loop)
                nursery.start_soon(self._write_loop)
                nursery.start_soon(self._timer_loop)
                task_status.started()
                await self._ended.wait()
                # Flush what is queued (a GoAway at least), bounded by the config; not to a
                # peer that stopped reading or answering (it would only delay the release).
                if not isinstance(self._core.terminated, WriteTimeout | KeepAliveTimeout):
                    with trio.move_on_after(self.config.write_timeout):
                        while self.out_bytes and not self._writer_failed:
                            await self._idle_lot.park()
                if self._writing:  # a stuck write (cancel-proof): closing the transport ends it
                    with trio.CancelScope(shield=True):
                        await trio.aclose_forcefully(self._transport)
                nursery.cancel_scope.cancel()
        finally:
            try:
                if self._core.terminated is None:
                    self._core.close(0)
                self._sync()
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(self._transport)
            finally:
                self._closed.set()

    async def open_stream(self) -> YamuxStream:
        """Open a stream (its SYN is queued at once; data may follow before the ACK).

        Waits while ``accept_backlog`` opened streams are unanswered.

        Raises:
            LimitExceeded: the local ``max_streams`` limit is reached, or the memory budget
                refused the stream's receive window.
            SessionClosed: the session is closed or going away (``__cause__``: the reason).
        """
        await checkpoint_if_cancelled()
        core = self._core
        blocked = False
        while (
            core.outbound_backlog_full
            and core.terminated is None
            and not core.go_away_sent
            and core.go_away_received is None
            and core.num_streams < self.config.max_streams
        ):
            await self._open_lot.park()
            blocked = True
        state = core.open_stream()
        stream = self._streams[state.stream_id] = YamuxStream(self, state)
        self._sync()
        if not blocked:
            await cancel_shielded_checkpoint()
        return stream

    async def accept_stream(self) -> YamuxStream:
        """Return the next inbound stream (ACKing it now).

        Raises:
            trio.EndOfChannel: the session has ended, or the peer sent GoAway and no
                inbound stream is waiting. See :attr:`close_reason`.
        """
        await checkpoint_if_cancelled()
        core = self._core
        blocked = False
        while (state := core.accept_stream(trio.current_time())) is None:
            if (
                core.terminated is not None
                or core.go_away_received is not None
                or (core.go_away_sent)
            ):
                raise trio.EndOfChannel("the yamux session accepts no more streams")
            await self._accept_lot.park()
            blocked = True
        stream = self._streams[state.stream_id] = YamuxStream(self, state)
        self._sync()
        if not blocked:
            await cancel_shielded_checkpoint()
        return stream

    async def ping(self) -> float:
        """Send a ping and return the round-trip time in seconds.

        A ping unanswered for ``keepalive_timeout`` ends the session (``KeepAliveTimeout``).

        Raises:
            SessionClosed: the session ended before the answer came.
        """
        core = self._core
        if core.terminated is not None:
            raise SessionClosed("the yamux session is closed") from core.terminated
        waiter = self._pings[core.ping(trio.current_time())] = _PingWaiter()
        self._sync()
        self._timer_changed.set()
        await waiter.event.wait()
        if waiter.rtt is None:
            raise SessionClosed("the yamux session closed during a ping") from core.terminated
        return waiter.rtt

    async def go_away(self) -> None:
        """Send GoAway(0) and keep running: neither side opens new streams (late SYNs from
        the peer are reset), existing streams carry on until :meth:`aclose`."""
        self._core.go_away(0)
        self._sync()
        self._open_lot.unpark_all()
        self._accept_lot.unpark_all()
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        """Send GoAway(0), flush, close the transport and wait for :meth:`run` to finish.

        Idempotent; streams still open become broken. Cancellation does not undo it.
        """
        if self._core.terminated is None:
            self._core.close(0)
            self._sync()
        if not self._started:
            self._started = True
            await trio.aclose_forcefully(self._transport)
            self._closed.set()
            return
        await self._closed.wait()

    # ---- plumbing --------------------------------------------------------------------------

    _writer_failed = False

    def _sync(self, *, direct: bool = False) -> None:
        """Dispatch the core's events and queue its output.

        The writer task is woken for the output unless ``direct`` (the caller then awaits
        :meth:`_flush`) or a write is in progress (its task sends the queue).
        """
        core = self._core
        events = core.next_events()
        if events:
            self._dispatch(events)
        out = core.data_to_send(control=False)
        if out:
            data = out[0] if len(out) == 1 and type(out[0]) is bytes else b"".join(out)
            self._outq.append(data)
            self.out_bytes += len(data)
        if (out or core.has_control) and not direct and not self._writing and self._writer_lot:
            self._writer_lot.unpark_all()
        if core.timer_dirty:
            self._timer_changed.set()

    async def _flush(self) -> bool:
        """Write the queued output from the calling task unless another write is in progress;
        return True if this task wrote (its write was a schedule point).

        Never interrupted by cancellation, so frames are never torn. Output queued meanwhile by
        other tasks is left to the writer task, which bounds the caller's work.
        """
        if self._writing or not (self._outq or self._core.has_control) or self._writer_failed:
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
        if (self._outq or self._core.has_control) and self._writer_lot:
            self._writer_lot.unpark_all()
        return True

    async def _write_queued(self, *, once: bool) -> None:
        """Send the queue (a snapshot of it if ``once``), each piece preceded by the waiting
        control frames; the caller holds ``_writing``."""
        core = self._core
        write = self._write
        try:
            while True:
                if core.has_control:
                    await write(core.take_control(trio.current_time()))
                if not self._outq:
                    break
                batch = self._outq
                self._outq = []
                for data in _pieces(batch):
                    if core.has_control:
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
            self._writer_failed = True
            self._outq.clear()
            self.out_bytes = 0
            core.connection_lost(exc)
            self._sync()
            self._wake_drain_waiters()
            self._drained_lot.unpark_all()
        if not self.out_bytes:
            self._idle_lot.unpark_all()

    async def _write(self, data: Buffer) -> None:
        """One transport write, watched by the core's ``write_timeout``."""
        core = self._core
        core.write_started(trio.current_time())
        if core.timer_dirty:
            self._timer_changed.set()
        await self._send(data)
        core.write_finished()

    def _dispatch(self, events: list[Event]) -> None:
        streams = self._streams
        for event in events:
            sid = getattr(event, "stream_id", None)
            if sid is not None:
                stream = streams.get(sid)
                if stream is not None:
                    stream.wake()
                    if type(event) is StreamClosed and stream.state.removed:
                        del streams[sid]
                if type(event) in (StreamClosed, StreamEstablished):
                    self._open_lot.unpark_all()
                elif type(event) is StreamOpened:
                    self._accept_lot.unpark_all()
            elif type(event) is PingAcknowledged:
                waiter = self._pings.pop(event.opaque, None)
                if waiter is not None:
                    waiter.rtt = event.rtt
                    waiter.event.set()
            elif type(event) is GoAwayReceived:
                self._open_lot.unpark_all()
                self._accept_lot.unpark_all()
            elif isinstance(event, ConnectionTerminated):
                self._on_terminated(event.error)

    def _on_terminated(self, error: BaseException) -> None:
        if isinstance(error, ProtocolError):
            logger.warning("yamux session ended: protocol error (%s): %s", error.side, error)
        elif isinstance(error, SessionClosed | ConnectionLost):
            logger.debug("yamux session ended: %s", error)
        else:
            logger.info("yamux session ended: %s", error)
        for stream in self._streams.values():
            stream.wake()
        self._streams.clear()
        self._wake_drain_waiters()
        self._open_lot.unpark_all()
        self._accept_lot.unpark_all()
        for waiter in self._pings.values():
            waiter.event.set()
        self._pings.clear()
        self._drained_lot.unpark_all()
        self._timer_changed.set()
        self._ended.set()

    def wait_for_drain(self, stream: YamuxStream) -> None:
        """Queue ``stream`` to be woken, in order, when queued output drops below the high
        water mark."""
        if stream not in self._drain_waiters:
            self._drain_waiters.append(stream)

    def forget_drain_waiter(self, stream: YamuxStream) -> None:
        if stream in self._drain_waiters:
            self._drain_waiters.remove(stream)

    def pass_drain_turn(self) -> None:
        """Wake the first blocked sender if there is room below the high water mark; after
        queueing its data it calls this again, so room is handed out one sender at a time."""
        if self._drain_waiters and self.out_bytes < SEND_HIGH_WATER:
            self._drain_waiters.popleft().wake_sender()

    def _wake_drain_waiters(self) -> None:
        for stream in self._drain_waiters:
            stream.wake_sender()
        self._drain_waiters.clear()

    def _adopt(self, transport: trio.abc.Stream) -> None:
        """Use ``transport`` from now on, with the fast paths it offers."""
        self._transport = transport
        # Writes must not be torn by cancellation: atomic sends where the transport has
        # them, else the write is cancel-shielded.
        atomic_send = atomic_send_of(transport)
        self._atomic = atomic_send is not None
        self._send: Callable[[Buffer], Awaitable[None]] = atomic_send or transport.send_all
        self.read_role.direct = receive_is_cancel_safe(transport)
        self._unwrap = unwrap_method_of(transport)

    async def _read_once(self) -> None:
        """Read the transport once and feed the core (the caller holds the read role).

        While :data:`OUTPUT_LIMIT` bytes of output are queued it waits for the output to
        drain instead (the peer does not read what it makes us send).
        """
        core = self._core
        if self.out_bytes >= OUTPUT_LIMIT and core.terminated is None:
            await self._drained_lot.park()
            return
        try:
            data = await self._transport.receive_some(RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError, StackError) as exc:
            core.connection_lost(exc)
        else:
            if not data:
                core.receive_eof()
            else:
                # On a protocol error the core terminates itself and queues GoAway.
                with contextlib.suppress(YamuxProtocolError):
                    core.receive_data(data, trio.current_time())
                # e.g. a lazy negotiation that the first read completed
                if self._unwrap is not None and (inner := self._unwrap()) is not self._transport:
                    self._adopt(inner)
        self._sync()

    async def _read_loop(self) -> None:
        await self.read_role.run_reader(lambda: self._core.terminated is None)

    async def _write_loop(self) -> None:
        """Send output queued by tasks that do not write themselves (reader, timer, closes)."""
        while True:
            while not (self._outq or self._core.has_control) or self._writing:
                await self._writer_lot.park()
            self._writing = True
            try:
                await self._write_queued(once=False)
            finally:
                self._writing = False

    async def _timer_loop(self) -> None:
        core = self._core
        while core.terminated is None:
            self._timer_changed = changed = trio.Event()
            deadline = core.get_timer()
            with trio.move_on_at(math.inf if deadline is None else deadline):
                await changed.wait()
            core.handle_timer(trio.current_time())
            self._sync()


def _pieces(batch: list[bytes]) -> list[Buffer]:
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
            end = pos + HEADER_SIZE
            if item[pos + 1] == FrameType.DATA:
                end += int.from_bytes(item[pos + 8 : end], "big")
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
        if len(item) < _COALESCE:
            run.append(item)
            continue
        if run:
            result.append(b"".join(run) if len(run) > 1 else run[0])
            run = []
        result.append(item)
    if run:
        result.append(b"".join(run) if len(run) > 1 else run[0])
    return result
