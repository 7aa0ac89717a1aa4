"""StreamTable: the streams a Yamux core tracks, and the one place their life changes.

It holds the tracked :class:`~.stream_record.StreamRecord` objects, the two backlogs
(inbound streams not accepted yet, outbound streams the peer has not answered), the streams
that linger after our close until the peer's FIN, and the memory reserved for their receive
windows. :meth:`StreamTable.advance` feeds an input to a stream's transition table
(:mod:`.stream_state`) and carries out the actions: frames and events go to the core's
output. Sans-IO.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, final

from p2pstack.abc.budget import MemoryBudget
from p2pstack.errors import LimitExceeded
from p2pstack.muxers.yamux.config import YamuxConfig
from p2pstack.muxers.yamux.errors import WindowExceededError
from p2pstack.muxers.yamux.events import (
    StreamClosed,
    StreamEndedByPeer,
    StreamResetByPeer,
    YamuxEvent,
)
from p2pstack.muxers.yamux.frames import FIN, MAX_U32, RST, window_update
from p2pstack.muxers.yamux.stream_record import StreamRecord
from p2pstack.muxers.yamux.stream_state import (
    ACTION_BITS,
    TRANSITIONS,
    Action,
    StreamInput,
    StreamState,
    transition,
)

# Fast paths for the per-frame inputs, derived from the table: the states in which sending
# data, or receiving it, changes nothing.
_CAN_SEND: Final = frozenset(
    state
    for (state, event), (new, actions) in TRANSITIONS.items()
    if event is StreamInput.SEND_DATA and new is state and not actions
)
_KEEPS_DATA: Final = frozenset(
    state
    for (state, event), (new, actions) in TRANSITIONS.items()
    if event is StreamInput.RECV_DATA and new is state and not actions
)


# Action bits as plain ints (see ACTION_BITS).
DISCARD: Final = int(Action.DISCARD)
QUEUE_FIN: Final = int(Action.QUEUE_FIN)
QUEUE_RST: Final = int(Action.QUEUE_RST)
EMIT_ENDED: Final = int(Action.EMIT_ENDED)
EMIT_RESET: Final = int(Action.EMIT_RESET)
LINGER: Final = int(Action.LINGER)
FORGET: Final = int(Action.FORGET)


@final
class StreamTable:
    """The tracked streams of one core.

    Args:
        config: ``max_streams``, ``stream_close_timeout`` and the window settings.
        memory: what receive windows are reserved from.
        send / emit: queue a frame / report an event (the core's output).

    Attributes:
        tuned_total: auto-tuned window growth of the tracked streams (against
            ``connection_window_budget``).
    """

    def __init__(
        self,
        config: YamuxConfig,
        memory: MemoryBudget,
        *,
        send: Callable[[bytes], None],
        emit: Callable[[YamuxEvent], None],
        logger: logging.Logger,
    ) -> None:
        self._config = config
        self._memory = memory
        self._send = send
        self._emit = emit
        self._log = logger
        self._streams: dict[int, StreamRecord] = {}
        self._backlog: dict[int, StreamRecord] = {}  # inbound, not accepted (in order)
        self._unacked: set[int] = set()  # outbound ids the peer has not answered
        # Streams we closed (FIN sent) that the peer has not finished: id -> (deadline, record)
        self._closing: OrderedDict[int, tuple[float, StreamRecord]] = OrderedDict()
        self.tuned_total = 0

    def __len__(self) -> int:
        return len(self._streams)

    def get(self, stream_id: int) -> StreamRecord | None:
        """The tracked stream ``stream_id``, or None."""
        return self._streams.get(stream_id)

    def __contains__(self, stream_id: int) -> bool:
        return stream_id in self._streams

    @property
    def num_open(self) -> int:
        """Streams counted against ``max_streams``: all but the lingering ones."""
        return len(self._streams) - len(self._closing)

    @property
    def num_unacked(self) -> int:
        """Our streams the peer has not answered yet."""
        return len(self._unacked)

    @property
    def num_pending_accepts(self) -> int:
        """Inbound streams waiting to be accepted."""
        return len(self._backlog)

    # ---- adding and accepting ------------------------------------------------------------

    def _add(self, stream_id: int, now: float, *, inbound: bool) -> StreamRecord:
        """Track a new stream, reserving its initial window from the memory budget.

        Raises:
            LimitExceeded: the memory budget refused the window.
        """
        window = self._config.initial_window
        self._memory.reserve_memory(window)
        stream = StreamRecord(stream_id, now=now)
        stream.reserved = window
        self._streams[stream_id] = stream
        if inbound:
            self._backlog[stream_id] = stream
        else:
            stream.recv_window = stream.recv_max = window
            self._unacked.add(stream_id)
        return stream

    def open(self, stream_id: int, now: float) -> StreamRecord:
        """Track our new stream ``stream_id``.

        Raises:
            LimitExceeded: ``max_streams``, a full outbound backlog, no ids left, or the
                memory budget refused the window.
        """
        cfg = self._config
        if self.num_open >= cfg.max_streams:
            raise LimitExceeded(
                f"cannot open a stream: the local yamux max_streams limit "
                f"({cfg.max_streams}) is reached",
                limit="yamux.max_streams",
            )
        if len(self._unacked) >= cfg.accept_backlog:
            raise LimitExceeded(
                f"{cfg.accept_backlog} opened streams are waiting for the peer's answer",
                limit="yamux.accept_backlog",
            )
        if stream_id > MAX_U32:
            raise LimitExceeded("yamux stream ids are exhausted", limit="yamux.stream_ids")
        return self._add(stream_id, now, inbound=False)

    def admit(self, stream_id: int, now: float) -> StreamRecord | str:
        """Track the peer's new stream ``stream_id`` if the limits allow; else return why
        not (the caller resets it)."""
        cfg = self._config
        if self.num_open >= cfg.max_streams:
            return f"the local max_streams limit ({cfg.max_streams}) is reached"
        if len(self._backlog) >= cfg.accept_backlog:
            return f"the accept backlog ({cfg.accept_backlog}) is full"
        try:
            return self._add(stream_id, now, inbound=True)
        except LimitExceeded as exc:
            return f"no memory for its window: {exc}"

    def lookup(self, stream_id: int) -> tuple[StreamRecord | None, bool]:
        """A frame (without SYN) for ``stream_id`` came from the peer: the tracked stream
        (or None), and True if that frame answered our SYN."""
        unacked = self._unacked
        if unacked and stream_id in unacked:
            unacked.discard(stream_id)
            return self._streams.get(stream_id), True
        return self._streams.get(stream_id), False

    def pop_backlog(self) -> StreamRecord | None:
        """The oldest inbound stream not accepted yet (removed from the backlog), or None."""
        if not self._backlog:
            return None
        return self._backlog.pop(next(iter(self._backlog)))

    def credit(self, stream: StreamRecord, now: float, rtt: float | None) -> int:
        """Window credit due to the peer after a read (auto-tuned, budgeted); 0 if none."""
        cfg = self._config
        before = stream.tuned
        credit = stream.window_credit(
            now, rtt, cfg.max_window, cfg.connection_window_budget - self.tuned_total, self._memory
        )
        self.tuned_total += stream.tuned - before
        return credit

    # ---- the peer's frames and our sends -------------------------------------------------

    def receive_data(
        self, stream: StreamRecord, flags: int, length: int, now: float
    ) -> StreamRecord | None:
        """A Data header with ``length`` > 0 for ``stream``: return it if the payload is to be
        buffered (its receive window is charged), None to drop the payload.

        Raises:
            WindowExceededError: ``length`` exceeds the stream's receive window.
        """
        state = stream.state
        if state in _KEEPS_DATA:
            actions = 0
        elif state is StreamState.CLOSING and flags & RST:
            return None  # the peer's reset at the frame's end ends the stream
        else:
            actions = self.advance(stream, StreamInput.RECV_DATA, now)
        if actions:  # DROP_DATA, and the stream may have been reset
            if actions & QUEUE_RST:
                self._log.debug("yamux: data on closed stream %d, resetting it", stream.stream_id)
            return None
        if length > stream.recv_window:
            raise WindowExceededError(
                f"stream {stream.stream_id}: {length} bytes exceed the receive window "
                f"{stream.recv_window}"
            )
        stream.recv_window -= length
        return stream

    def receive_flags(self, stream: StreamRecord, flags: int, now: float) -> None:
        """The FIN or RST flag of a frame for ``stream`` (RST wins)."""
        event = StreamInput.RECV_RST if flags & RST else StreamInput.RECV_FIN
        self.advance(stream, event, now)

    def check_send(self, stream: StreamRecord) -> None:
        """Raise unless ``stream`` may send data.

        Raises:
            YamuxProtocolError: (``remote=False``) the stream's state forbids sending.
        """
        if stream.state not in _CAN_SEND:
            transition(stream.stream_id, stream.state, StreamInput.SEND_DATA)  # raises

    # ---- transitions ---------------------------------------------------------------------

    def advance(self, stream: StreamRecord, event: StreamInput, now: float) -> int:
        """Feed ``event`` to ``stream``'s state machine and carry out the actions.

        Returns the actions as ``int`` bits of :class:`Action` (``bits & LINGER``...).

        Raises:
            YamuxProtocolError: the transition table has no entry for it.
        """
        entry = ACTION_BITS.get((stream.state, event))
        if entry is None:
            new, actions = transition(stream.stream_id, stream.state, event)  # raises
            entry = (new, int(actions))
        stream.state, bits = entry
        if not bits:
            return bits
        sid = stream.stream_id
        if bits & DISCARD:
            stream.discard()
        if bits & QUEUE_FIN:
            self._send(window_update(sid, FIN))
        if bits & QUEUE_RST:
            self._send(window_update(sid, RST))
        if bits & EMIT_ENDED:
            self._emit(StreamEndedByPeer(sid))
        if bits & EMIT_RESET:
            self._emit(StreamResetByPeer(sid))
        if bits & LINGER:
            self._linger(stream, now)
        if bits & FORGET:
            self._forget(stream)
        return bits

    def first_close_deadline(self) -> float | None:
        """When the oldest lingering stream is due to be reset, or None."""
        if not self._closing:
            return None
        return self._closing[next(iter(self._closing))][0]

    def expire(self, now: float) -> None:
        """Reset the lingering streams whose peer did not finish by their deadline."""
        while self._closing:
            deadline, stream = self._closing[next(iter(self._closing))]
            if deadline > now:
                return
            del self._closing[stream.stream_id]
            self._log.debug(
                "yamux: stream %d not finished by the peer %s s after our close; resetting it",
                stream.stream_id,
                self._config.stream_close_timeout,
            )
            self.advance(stream, StreamInput.SEND_RST, now)

    def clear(self) -> None:
        """The session ended: forget every stream and release its memory."""
        for stream in self._streams.values():
            self._release(stream)
        self._streams.clear()
        self._backlog.clear()
        self._unacked.clear()
        self._closing.clear()

    def _linger(self, stream: StreamRecord, now: float) -> None:
        # Lingering until the peer's FIN, the stream holds no data (later data is answered
        # with RST): it gives back its window memory and no longer counts as open. At most
        # max_streams linger; the oldest is reset to make room.
        self._release(stream)
        if len(self._closing) >= self._config.max_streams:
            _, oldest = next(iter(self._closing.values()))
            self.advance(oldest, StreamInput.SEND_RST, now)
        deadline = now + self._config.stream_close_timeout
        self._closing[stream.stream_id] = (deadline, stream)

    def _forget(self, stream: StreamRecord) -> None:
        sid = stream.stream_id
        del self._streams[sid]
        self._closing.pop(sid, None)
        self._unacked.discard(sid)
        self._backlog.pop(sid, None)
        self.tuned_total -= stream.tuned
        self._release(stream)
        self._emit(StreamClosed(sid))

    def _release(self, stream: StreamRecord) -> None:
        if stream.reserved:
            self._memory.release_memory(stream.reserved)
            stream.reserved = 0
