"""YamuxStream: one stream of a :class:`~.session.YamuxSession`, a trio half-closeable stream."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, ClassVar, final

import trio
from trio.lowlevel import ParkingLot, cancel_shielded_checkpoint, checkpoint_if_cancelled

from p2pstack.abc.muxer import MuxedStream
from p2pstack.muxers.yamux.errors import SessionClosed, StreamResetError
from p2pstack.muxers.yamux.stream_record import StreamRecord
from p2pstack.muxers.yamux.stream_state import FIN_SENT_STATES, RESET_STATES

if TYPE_CHECKING:
    from p2pstack.muxers.yamux.session import YamuxSession

#: ``receive_some()`` without ``max_bytes`` returns at most this much.
DEFAULT_RECEIVE_SIZE = 256 * 1024
#: ``receive_some()`` returns at most this much (or one whole buffered chunk) per call. The
#: result is a copy: large enough that the per-call cost is small next to it (64 KiB calls
#: cost ~15 % of bulk throughput), small enough that it comes from the allocator's free lists
#: (megabyte-sized copies fault in fresh pages on every read).
RECEIVE_LIMIT = 256 * 1024
#: At most this much of one ``send_all`` is queued at a time.
_SEND_CHUNK = 1024 * 1024


@final
class YamuxStream(MuxedStream):
    """A Yamux stream: a ``trio.abc.HalfCloseableStream``.

    ``send_eof`` sends FIN. ``aclose`` drops unread data and sends FIN, or RST when the peer
    could otherwise block (unread data was dropped, or it has no window left); data the
    peer sends after our ``aclose`` is answered with RST. A received RST and a failed
    session make every method raise ``trio.BrokenResourceError`` (``__cause__``:
    ``StreamResetError`` or the session's ``close_reason``).
    """

    cancel_safe_receive: ClassVar[bool] = True
    """A cancelled receive takes nothing out of the stream's buffer."""

    def __init__(self, session: YamuxSession, record: StreamRecord) -> None:
        self._core = session.core
        self._writer = session.write_path
        self._read_role = session.read_role
        self.record = record
        """The core's record of this stream (read-only: its state, buffer and windows)."""
        self._recv_lot = ParkingLot()
        self._send_lot = ParkingLot()
        self._receiving = False
        self._sending = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<YamuxStream {self.record!r} closed={self._closed}>"

    @property
    def stream_id(self) -> int:
        """The Yamux stream id (odd: opened by the dialer, even: by the listener)."""
        return self.record.stream_id

    def wake(self) -> None:
        """Wake the tasks blocked on this stream so they re-check its state."""
        if self._recv_lot:
            self._recv_lot.unpark_all()
        if self._send_lot:
            self._send_lot.unpark_all()

    async def park_receiver(self) -> None:
        """Park the receiving task until :meth:`wake`."""
        await self._recv_lot.park()

    def wake_sender(self) -> None:
        """Wake the task blocked sending on this stream (if any)."""
        if self._send_lot:
            self._send_lot.unpark_all()

    def _broken(self) -> trio.BrokenResourceError:
        record = self.record
        cause: BaseException
        if record.is_reset:
            cause = StreamResetError(record.stream_id, remote=record.reset_by_peer)
        else:
            core = self._core
            cause = (
                core.terminated or core.write_error or SessionClosed("the yamux session is closed")
            )
        error = trio.BrokenResourceError(f"yamux stream {record.stream_id} is broken: {cause}")
        error.__cause__ = cause
        return error

    def _check_send(self) -> None:
        state = self.record.state
        if self._closed or state in FIN_SENT_STATES:
            raise trio.ClosedResourceError("this yamux stream is closed for sending")
        core = self._core
        if state in RESET_STATES or core.terminated is not None or core.write_error is not None:
            raise self._broken()

    def _enter_send(self) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending on this yamux stream")
        self._sending = True

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return up to ``max_bytes`` bytes (default 256 KiB); ``b""`` only at EOF.

        Raises:
            ValueError: ``max_bytes`` < 1.
            trio.ClosedResourceError: we closed the stream.
            trio.BrokenResourceError: reset, or the session failed.
            trio.BusyResourceError: another task is receiving.
        """
        if max_bytes is None:
            max_bytes = DEFAULT_RECEIVE_SIZE
        elif (max_bytes := operator.index(max_bytes)) < 1:
            raise ValueError("max_bytes must be at least 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving on this yamux stream")
        self._receiving = True
        try:
            await checkpoint_if_cancelled()
            record = self.record
            blocked = False
            while True:
                if self._closed:
                    raise trio.ClosedResourceError("this yamux stream is closed")
                if record.state in RESET_STATES:
                    raise self._broken()
                if record.buffered:
                    limit = (
                        max_bytes
                        if max_bytes <= RECEIVE_LIMIT
                        else max(RECEIVE_LIMIT, len(record.chunks[0]))
                    )
                    data = self._core.read(record, min(limit, max_bytes), trio.current_time())
                    self._writer.sync(direct=True)
                    if await self._writer.flush():  # window credit, sent from this task
                        blocked = True
                    break
                if record.fin_received:
                    data = b""
                    break
                if self._core.terminated is not None:
                    raise self._broken()
                await self._read_role.receive_for(self)
                blocked = True
            if not blocked:
                await cancel_shielded_checkpoint()
            return data
        finally:
            self._receiving = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send all of ``data`` (split into frames; waits for window credit).

        Raises:
            trio.ClosedResourceError: we closed the stream or sent EOF.
            trio.BrokenResourceError: reset, or the session failed.
            trio.BusyResourceError: another task is sending.
        """
        self._enter_send()
        try:
            await checkpoint_if_cancelled()
            view = memoryview(data)
            if view.itemsize != 1 or view.ndim != 1:
                view = view.cast("B")
            record = self.record
            writer = self._writer
            blocked = False
            while True:
                self._check_send()
                if not view:
                    break
                if self._has_room():
                    sent = self._core.send_data(record, view[:_SEND_CHUNK])
                    # Serializes the frames: `data` is not referenced afterwards.
                    writer.sync(direct=True)
                    view = view[sent:]
                    writer.pass_drain_turn()
                    if await writer.flush():
                        blocked = True
                        if view:
                            await checkpoint_if_cancelled()
                    continue
                await self._wait_for_room()
                blocked = True
            if not blocked:
                await cancel_shielded_checkpoint()
        finally:
            self._leave_send()

    def _has_room(self) -> bool:
        """Send window left and the session's output below the high water mark."""
        return self.record.send_window > 0 and self._writer.has_room

    async def _wait_for_room(self) -> None:
        """Park until a window update or a drain may have made room (queue for the drain)."""
        if not self._writer.has_room:
            self._writer.wait_for_drain(self)
        await self._send_lot.park()

    def _leave_send(self) -> None:
        self._sending = False
        self._writer.forget_drain_waiter(self)
        self._writer.pass_drain_turn()

    async def wait_send_all_might_not_block(self) -> None:
        """Return when there is send window and the session's output is not backed up.

        Raises:
            trio.ClosedResourceError: we closed the stream or sent EOF.
            trio.BrokenResourceError: reset, or the session failed.
            trio.BusyResourceError: another task is sending.
        """
        self._enter_send()
        try:
            await checkpoint_if_cancelled()
            blocked = False
            while True:
                self._check_send()
                if self._has_room():
                    break
                await self._wait_for_room()
                blocked = True
            if not blocked:
                await cancel_shielded_checkpoint()
        finally:
            self._leave_send()

    async def send_eof(self) -> None:
        """Half-close: send FIN after the queued data. A second call does nothing.

        Raises:
            trio.ClosedResourceError: we closed the stream.
            trio.BrokenResourceError: reset, or the session failed.
            trio.BusyResourceError: another task is sending.
        """
        self._enter_send()
        try:
            await checkpoint_if_cancelled()
            if self._closed:
                raise trio.ClosedResourceError("this yamux stream is closed")
            if not self.record.fin_sent:
                self._check_send()
                self._core.send_eof(self.record)
                self._writer.sync()
            await cancel_shielded_checkpoint()
        finally:
            self._sending = False

    async def aclose(self) -> None:
        """Close both directions (see the class docstring); idempotent, works cancelled."""
        if not self._closed:
            self._closed = True
            self._core.close_stream(self.record, trio.current_time())
            self._writer.sync()
            self._writer.forget_drain_waiter(self)
            self._read_role.interrupt(self)
            self.wake()
        await trio.lowlevel.checkpoint()

    async def reset(self) -> None:
        """Abort the stream with RST (also after ``aclose``, until the peer's FIN came)."""
        self._closed = True
        self._core.reset_stream(self.record)
        self._writer.sync()
        self._writer.forget_drain_waiter(self)
        self._read_role.interrupt(self)
        self.wake()
        await trio.lowlevel.checkpoint()
