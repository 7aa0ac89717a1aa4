"""YamuxSession: the trio adapter over :class:`~p2pstack.muxers.yamux.core.YamuxCore`.

Large transport reads feed the core: a blocked receiver reads them itself when it can, else
the session's task does (see :mod:`.read_role`); the same task drives keepalive pings and
timeouts (its waits carry the core's next deadline). Over a transport whose reads are not
cancel-safe a reader task of its own reads instead, so that the timers never wait for a read.
Output goes through the session's :class:`~.write_path.WritePath` (a writer task, started
while there is some, sends what the session's task queues; application tasks write their own
output). A write that does not finish within ``write_timeout`` ends the session
(``WriteTimeout``) and the transport is closed to end it. Reads of the transport pause while
the write path is backed up (:data:`~.write_path.OUTPUT_LIMIT`).

The streams use three package-internal objects of a session: ``core``, ``write_path`` and
``read_role``.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import final

import trio
from trio.lowlevel import ParkingLot, cancel_shielded_checkpoint, checkpoint_if_cancelled

from p2pstack.abc.budget import MemoryBudget
from p2pstack.errors import ProtocolError, StackError
from p2pstack.muxers.yamux.config import YamuxConfig
from p2pstack.muxers.yamux.core import YamuxCore
from p2pstack.muxers.yamux.errors import (
    ConnectionLost,
    KeepAliveTimeout,
    SessionClosed,
    WriteTimeout,
    YamuxProtocolError,
)
from p2pstack.muxers.yamux.events import (
    ConnectionTerminated,
    GoAwayReceived,
    InboundStreamOpened,
    PingAcknowledged,
    StreamClosed,
    StreamEstablished,
    YamuxEvent,
)
from p2pstack.muxers.yamux.read_role import ReadRole
from p2pstack.muxers.yamux.stream import YamuxStream
from p2pstack.muxers.yamux.write_path import WritePath
from p2pstack.role import Role
from p2pstack.stream_ops import receive_is_cancel_safe, unwrap_method_of

logger = logging.getLogger("p2pstack.yamux")

#: Bytes asked of the transport per read: more than a secure transport's own read size plus
#: one frame, so a whole decrypted read is taken at once (no slicing copies below us).
RECEIVE_SIZE = 512 * 1024


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
        role: ``Role.INITIATOR`` if we dialled (odd stream ids).
        config: the settings (defaults when None).
        memory: the budget the receive windows granted to the peer are reserved from
            (unlimited when None); see :class:`~.core.YamuxCore`.
    """

    def __init__(
        self,
        transport: trio.abc.Stream,
        *,
        role: Role,
        config: YamuxConfig | None = None,
        memory: MemoryBudget | None = None,
    ) -> None:
        self.config = config or YamuxConfig()
        self._core = YamuxCore(
            self.config, role=role, now=trio.current_time(), logger=logger, memory=memory
        )
        self.read_role = ReadRole(self._read_once)
        """Which task reads the transport (used by the streams' ``receive_some``)."""
        self.write_path = WritePath(
            self._core, transport, on_events=self._dispatch, on_timer_change=self._timer_change
        )
        """The output queue and its writes (used by the streams)."""
        self._transport = transport
        self.read_role.direct = receive_is_cancel_safe(transport)
        self._unwrap = unwrap_method_of(transport)
        self._streams: dict[int, YamuxStream] = {}
        # created on first use
        self._accept_lot: ParkingLot | None = None
        self._open_lot: ParkingLot | None = None
        self._pings: dict[int, _PingWaiter] = {}
        self._timer_scope: trio.CancelScope | None = None
        """The session task's current wait, whose deadline is the core's next timer."""
        self._reader_running = False
        self._done = False
        """:meth:`run` has finished and the transport is closed."""
        self._closed: trio.Event | None = None
        """Set with ``_done`` (created by the first :meth:`wait_closed` before then)."""
        self._started = False

    def __repr__(self) -> str:
        role = self._core.role.value
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
        if self._done:
            await trio.lowlevel.checkpoint()
            return
        if self._closed is None:
            self._closed = trio.Event()
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
            self.write_path.sync()
            async with trio.open_nursery() as nursery:
                self.write_path.attach(nursery)
                task_status.started()
                del task_status  # it holds the nursery the task started in: not kept here
                try:
                    await self._serve_until_flushed(nursery)
                finally:
                    # However the body ends, the nursery takes no writer task from now on.
                    self.write_path.attach(None)
                nursery.cancel_scope.cancel()
        finally:
            self.write_path.attach(None)
            try:
                if self._core.terminated is None:
                    self._core.close(0)
                self.write_path.sync()
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(self._transport)
            finally:
                self._set_done()

    async def _serve_until_flushed(self, nursery: trio.Nursery) -> None:
        # This task reads and runs the timers until the session ends (an idle session runs
        # no other task).
        await self._serve(nursery)
        self.write_path.sync()  # the core's termination dispatched
        # Flush what is queued (a GoAway at least), bounded by the config; not to a peer
        # that stopped reading or answering (it would only delay the release).
        if not isinstance(self._core.terminated, WriteTimeout | KeepAliveTimeout):
            with trio.move_on_after(self.config.write_timeout):
                await self.write_path.wait_idle()
        if self.write_path.writing:
            # A stuck write (cancel-proof): closing the transport ends it.
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(self._transport)

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
            if self._open_lot is None:
                self._open_lot = ParkingLot()
            await self._open_lot.park()
            blocked = True
        state = core.open_stream()
        stream = self._streams[state.stream_id] = YamuxStream(self, state)
        self.write_path.sync()
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
            if self._accept_lot is None:
                self._accept_lot = ParkingLot()
            await self._accept_lot.park()
            blocked = True
        stream = self._streams[state.stream_id] = YamuxStream(self, state)
        self.write_path.sync()
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
        self.write_path.sync()
        self._timer_change()
        await waiter.event.wait()
        if waiter.rtt is None:
            raise SessionClosed("the yamux session closed during a ping") from core.terminated
        return waiter.rtt

    async def go_away(self) -> None:
        """Send GoAway(0) and keep running: neither side opens new streams (late SYNs from
        the peer are reset), existing streams carry on until :meth:`aclose`."""
        self._core.go_away(0)
        self.write_path.sync()
        self._wake_openers()
        self._wake_acceptors()
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        """Send GoAway(0), flush, close the transport and wait for :meth:`run` to finish.

        Idempotent; streams still open become broken. Cancellation does not undo it.
        """
        if self._core.terminated is None:
            self._core.close(0)
            self.write_path.sync()
        if not self._started:
            self._started = True
            await trio.aclose_forcefully(self._transport)
            self._set_done()
            return
        await self.wait_closed()

    # ---- plumbing --------------------------------------------------------------------------

    def _dispatch(self, events: list[YamuxEvent]) -> None:
        streams = self._streams
        for event in events:
            sid = getattr(event, "stream_id", None)
            if sid is not None:
                stream = streams.get(sid)
                if stream is not None:
                    stream.wake()
                    if type(event) is StreamClosed and stream.record.forgotten:
                        del streams[sid]
                if type(event) in (StreamClosed, StreamEstablished):
                    self._wake_openers()
                elif type(event) is InboundStreamOpened:
                    self._wake_acceptors()
            elif type(event) is PingAcknowledged:
                waiter = self._pings.pop(event.opaque, None)
                if waiter is not None:
                    waiter.rtt = event.rtt
                    waiter.event.set()
            elif type(event) is GoAwayReceived:
                self._wake_openers()
                self._wake_acceptors()
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
        self.write_path.session_ended()
        self._wake_openers()
        self._wake_acceptors()
        for waiter in self._pings.values():
            waiter.event.set()
        self._pings.clear()
        if self._timer_scope is not None:
            self._timer_scope.cancel()  # the session's task ends its loop

    def _set_done(self) -> None:
        self._done = True
        if self._closed is not None:
            self._closed.set()

    def _wake_openers(self) -> None:
        if self._open_lot:
            self._open_lot.unpark_all()

    def _wake_acceptors(self) -> None:
        if self._accept_lot:
            self._accept_lot.unpark_all()

    def _timer_change(self) -> None:
        if self._timer_scope is not None:
            self._timer_scope.deadline = self._next_timer()

    def _next_timer(self) -> float:
        deadline = self._core.get_timer()
        return math.inf if deadline is None else deadline

    def _adopt(self, transport: trio.abc.Stream) -> None:
        """Use ``transport`` from now on, with the fast paths it offers."""
        self._transport = transport
        self.write_path.use_transport(transport)
        direct = receive_is_cancel_safe(transport)
        if direct is not self.read_role.direct:
            self.read_role.direct = direct
            if self._timer_scope is not None:
                self._timer_scope.cancel()  # the session's task takes up the new way to read
        self._unwrap = unwrap_method_of(transport)

    async def _read_once(self) -> None:
        """Read the transport once and feed the core (the caller holds the read role).

        While the write path is backed up it waits for the output to
        drain instead (the peer does not read what it makes us send).
        """
        core = self._core
        if self.write_path.backed_up and core.terminated is None:
            await self.write_path.wait_drained()
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
        self.write_path.sync()

    async def _serve(self, nursery: trio.Nursery) -> None:
        """The session's task until the core is terminated: read the transport whenever
        nobody else does (when its reads are cancel-safe; else a reader task does and this
        task only waits), and act on the core's timers as they fall due."""
        core = self._core
        role = self.read_role
        while core.terminated is None:
            # One scope for many reads (each read has a scope of its own, without a deadline,
            # that receivers cancel to read themselves): only a timer, the end or a change of
            # the way to read exits it.
            with trio.CancelScope(deadline=self._next_timer()) as self._timer_scope:
                while core.terminated is None:
                    if role.direct:
                        await role.step()
                    else:
                        if not self._reader_running:
                            self._reader_running = True
                            nursery.start_soon(self._read_loop)
                        await trio.sleep_forever()
            deadline = self._timer_scope.deadline
            self._timer_scope = None
            if (now := trio.current_time()) >= deadline:
                core.handle_timer(now)
                self.write_path.sync()

    async def _read_loop(self) -> None:
        """The reader task over a transport whose reads are not cancel-safe; it ends when
        they become so (the session's task reads from then on) or the session ends."""
        role = self.read_role
        try:
            await role.run_reader(lambda: self._core.terminated is None and not role.direct)
        finally:
            self._reader_running = False
            if self._timer_scope is not None:
                self._timer_scope.cancel()
