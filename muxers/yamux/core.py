"""The sans-IO Yamux session state machine.

:class:`YamuxCore` takes bytes in (:meth:`~YamuxCore.receive_data`), produces events
(:meth:`~YamuxCore.next_events`) and queues frames (:meth:`~YamuxCore.data_to_send`). Time
enters as ``now`` arguments; :meth:`~YamuxCore.get_timer` and :meth:`~YamuxCore.handle_timer`
drive keepalive pings, ping and write timeouts and the release of closed streams. It never
does I/O and never blocks.

Its parts: :class:`~.decoder.YamuxFrameDecoder` splits the input into frames and
:mod:`.frames` encodes the output; every change of a stream's life is a lookup in the
transition table of :mod:`.stream_state`, applied by the :class:`~.stream_table.StreamTable`
that tracks the streams; :class:`~.keepalive.Keepalive` owns pings and liveness.

Bounds: pings and their answers are *control* frames, kept apart (at most ``ping_backlog``
unsent answers) and handed out ahead of queued stream frames (:meth:`~YamuxCore.take_control`);
every byte of receive window granted to the peer is reserved from a
:class:`~p2pstack.abc.budget.MemoryBudget` and released when the stream is forgotten.
"""

from __future__ import annotations

import logging
import math
from typing import Final

from p2pstack.abc.budget import UNLIMITED, MemoryBudget
from p2pstack.muxers.yamux.config import YamuxConfig
from p2pstack.muxers.yamux.decoder import YamuxFrameDecoder
from p2pstack.muxers.yamux.errors import (
    ConnectionLost,
    RemoteGoAway,
    SessionClosed,
    StreamIdError,
    YamuxProtocolError,
)
from p2pstack.muxers.yamux.events import (
    ConnectionTerminated,
    DataReceived,
    GoAwayReceived,
    InboundStreamOpened,
    PingAcknowledged,
    StreamEstablished,
    WindowUpdated,
    YamuxEvent,
)
from p2pstack.muxers.yamux.frames import (
    ACK,
    DEFAULT_WINDOW,
    FIN,
    RST,
    SYN,
    data_header,
    go_away_frame,
    window_update,
)
from p2pstack.muxers.yamux.keepalive import Keepalive
from p2pstack.muxers.yamux.stream_record import StreamRecord
from p2pstack.muxers.yamux.stream_state import RECEIVING_STATES, StreamInput
from p2pstack.muxers.yamux.stream_table import LINGER, StreamTable
from p2pstack.role import Role

WRITE_FAILURE_GRACE: Final = 1.0
"""Seconds a session still reads after a transport write failed (see
:meth:`YamuxCore.write_failed`)."""


class YamuxCore:
    """One Yamux session, without I/O.

    Args:
        config: the settings (defaults when None).
        role: ``Role.INITIATOR`` for the connection dialer (odd stream ids).
        now: the current time, used for the RTT ping sent at start.
        memory: the budget every byte of receive window granted to the peer is reserved
            from (the initial window of each stream, and each auto-tuned growth).

    Attributes:
        rtt: the last measured round-trip time in seconds (None before the first answer).
        timer_dirty: set when a deadline earlier than the last :meth:`get_timer` result
            appeared; the driver clears it and calls :meth:`get_timer` again.
    """

    def __init__(
        self,
        config: YamuxConfig | None = None,
        *,
        role: Role,
        now: float = 0.0,
        logger: logging.Logger | None = None,
        memory: MemoryBudget | None = None,
    ) -> None:
        self.config = cfg = config or YamuxConfig()
        self.role = role
        self._memory: MemoryBudget = UNLIMITED if memory is None else memory
        self._log = logger or logging.getLogger("p2pstack.yamux")
        initiator = role is Role.INITIATOR
        self._next_id = 1 if initiator else 2
        self._peer_parity = 0 if initiator else 1
        self._out: list[bytes | memoryview] = []
        self._events: list[YamuxEvent] = []
        self._streams = StreamTable(
            cfg, self._memory, send=self._send_frame, emit=self._emit, logger=self._log
        )
        self._decoder = YamuxFrameDecoder[StreamRecord](
            on_data=self._on_data,
            on_payload=self._on_payload,
            on_data_end=self._on_data_end,
            on_window_update=self._on_window_update,
            on_ping=self._on_ping,
            on_go_away=self._on_go_away,
        )
        self._max_frame = cfg.max_frame_size
        self.terminated: BaseException | None = None
        self.write_error: BaseException | None = None
        """A transport write failed: nothing more is sent; the session still reads for
        :data:`WRITE_FAILURE_GRACE` (then, or at the read side's end, it terminates)."""
        self._read_until: float | None = None
        self.go_away_sent = False
        self.go_away_received: int | None = None
        self.keepalive = self._keepalive = Keepalive(cfg, now, self._log)
        """Pings and liveness deadlines (the write path reads ``has_control``)."""
        self.rtt: float | None = None
        self._now = now
        self._armed = math.inf
        self.timer_dirty = False
        self.ping(now)

    # ---- queries -------------------------------------------------------------------------

    @property
    def num_streams(self) -> int:
        """Streams the core tracks (open, half-closed, lingering or waiting in the backlog)."""
        return len(self._streams)

    @property
    def num_open_streams(self) -> int:
        """Streams counted against ``max_streams``: all but those we closed that linger until
        the peer's FIN (see :meth:`close_stream`)."""
        return self._streams.num_open

    @property
    def outbound_backlog_full(self) -> bool:
        """True while ``accept_backlog`` of our streams wait for the peer's answer."""
        return self._streams.num_unacked >= self.config.accept_backlog

    @property
    def pending_accepts(self) -> int:
        """Inbound streams waiting in the accept backlog."""
        return self._streams.num_pending_accepts

    @property
    def dropped_pongs(self) -> int:
        """Pings of the peer left unanswered because ``ping_backlog`` answers were waiting."""
        return self._keepalive.dropped_pongs

    def next_events(self) -> list[YamuxEvent]:
        """Return and clear the events produced so far."""
        events = self._events
        self._events = []
        return events

    @property
    def has_control(self) -> bool:
        """True while pings or ping answers wait for :meth:`take_control`."""
        return self._keepalive.has_control

    def data_to_send(self, *, control: bool = True) -> list[bytes | memoryview]:
        """Return and clear the queued output buffers, in order.

        With ``control`` the waiting pings and ping answers come first (as if
        :meth:`take_control` had been called now); without, they stay queued. Data frame
        payloads are views of the buffers given to :meth:`send_data`: serialize (e.g.
        ``b"".join``) them before those buffers may change.
        """
        out = self._out
        self._out = []
        if control and self._keepalive.has_control:
            out.insert(0, self._keepalive.take_control())
        return out

    def take_control(self, now: float | None = None) -> bytes:
        """Return and clear the waiting control frames: our pings, then ping answers.

        Call it right before writing to the transport: with ``now``, our pings' answer
        deadlines (and RTTs) count from then instead of from :meth:`ping`; answers not
        taken yet stay bounded by ``ping_backlog``.
        """
        return self._keepalive.take_control(now)

    def write_started(self, now: float) -> None:
        """The driver starts a transport write; it must end within ``write_timeout``."""
        self._need_timer(self._keepalive.write_started(now))

    def write_finished(self) -> None:
        """The transport write started last has completed."""
        self._keepalive.write_finished()

    def get_timer(self) -> float | None:
        """The time at which :meth:`handle_timer` should be called next, or None."""
        self.timer_dirty = False
        when = math.inf
        if self.terminated is None:
            when = self._keepalive.deadline()
            close_deadline = self._streams.first_close_deadline()
            if close_deadline is not None:
                when = min(when, close_deadline)
            if self._read_until is not None:
                when = min(when, self._read_until)
        self._armed = when
        return None if when == math.inf else when

    def _need_timer(self, when: float) -> None:
        if when < self._armed:
            self._armed = when
            self.timer_dirty = True

    # ---- input ---------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Process bytes from the peer (any split). Data is ignored once terminated.

        The core keeps references to ``data``: do not modify it afterwards.

        Raises:
            YamuxProtocolError: the peer violated the protocol. GoAway(error_code) is
                queued and the core is terminated before the error propagates.
        """
        if self.terminated is not None:
            return
        self._now = now
        self._keepalive.received(now)
        try:
            self._decoder.feed(memoryview(data))
        except YamuxProtocolError as exc:
            self._terminate(exc, go_away=exc.error_code)
            raise

    def receive_eof(self) -> None:
        """The transport reached EOF: terminate with :class:`ConnectionLost`."""
        after = " after GoAway" if self.go_away_received is not None else ""
        self._terminate(
            self.write_error or ConnectionLost(f"the peer closed the connection{after}")
        )

    def connection_lost(self, exc: BaseException) -> None:
        """Reading the transport failed: terminate with :class:`ConnectionLost` caused by
        ``exc`` (by the earlier write failure's, if there was one)."""
        lost = ConnectionLost(f"the connection failed: {exc}")
        lost.__cause__ = exc
        self._terminate(self.write_error or lost)

    def write_failed(self, exc: BaseException, now: float) -> None:
        """Writing the transport failed: send nothing more, but keep reading what the peer
        sent before the failure (after a TCP reset, what arrived before it is still readable:
        its frames, end-of-stream flags above all, are delivered) until the read side ends
        or :data:`WRITE_FAILURE_GRACE` has passed; then terminate with
        :class:`ConnectionLost` caused by ``exc``."""
        if self.terminated is not None or self.write_error is not None:
            return
        lost = ConnectionLost(f"the connection failed: {exc}")
        lost.__cause__ = exc
        self.write_error = lost
        self._read_until = now + WRITE_FAILURE_GRACE
        self._need_timer(self._read_until)

    def handle_timer(self, now: float) -> None:
        """Act on what is due: end the session on a ping or write timeout, reset streams
        whose peer did not finish within ``stream_close_timeout`` of our close, and send a
        keepalive ping (none while one is unanswered)."""
        if self.terminated is not None:
            return
        self._now = now
        if self.write_error is not None and self._read_until is not None:
            if now >= self._read_until:
                self._terminate(self.write_error)
            return  # no pings or stream timers while only reading
        error = self._keepalive.expired(now)
        if error is not None:
            self._terminate(error)
            return
        self._streams.expire(now)
        if self._keepalive.due_ping(now):
            self.ping(now)

    # ---- frames from the peer (YamuxFrameDecoder handlers) -------------------------------------

    def _on_data(self, sid: int, flags: int, length: int) -> StreamRecord | None:
        """Validate a Data header; return the stream its payload goes to (None = drop it)."""
        stream = self._frame_stream(sid, flags)
        if stream is None or not length:
            return None
        return self._streams.receive_data(stream, flags, length, self._now)

    def _on_payload(self, stream: StreamRecord, piece: memoryview | bytes) -> None:
        size = len(piece)
        stream.chunks.append(piece)
        stream.buffered += size
        self._events.append(DataReceived(stream.stream_id, size))

    def _on_data_end(self, sid: int, flags: int) -> None:
        stream = self._streams.get(sid)
        if stream is not None:
            self._streams.receive_flags(stream, flags, self._now)

    def _frame_stream(self, sid: int, flags: int) -> StreamRecord | None:
        """Handle SYN/ACK of a stream frame; return the live stream (None = ignore it)."""
        if flags & SYN:
            return self._on_syn(sid)
        stream, answered = self._streams.lookup(sid)
        if answered:  # any frame from the peer (ACK or not) establishes our stream
            self._events.append(StreamEstablished(sid))
        return stream

    def _on_syn(self, sid: int) -> StreamRecord | None:
        if sid == 0 or sid & 1 != self._peer_parity:
            raise StreamIdError(f"SYN with stream id {sid} of our own parity (or zero)")
        if sid in self._streams:
            raise StreamIdError(f"SYN for stream {sid}, which is already open")
        if self.go_away_sent:
            reason = "we sent GoAway"
        elif self.go_away_received is not None:
            reason = "the peer sent GoAway"
        else:
            admitted = self._streams.admit(sid, self._now)
            if isinstance(admitted, StreamRecord):
                self._events.append(InboundStreamOpened(sid))
                return admitted
            reason = admitted
        self._log.debug("yamux: rejecting inbound stream %d: %s", sid, reason)
        self._out.append(window_update(sid, RST))
        return None

    def _on_window_update(self, sid: int, flags: int, length: int) -> None:
        stream = self._frame_stream(sid, flags)
        if stream is None:
            return
        if length:
            stream.send_window += length
            self._events.append(WindowUpdated(sid))
        if flags & (FIN | RST):
            self._streams.receive_flags(stream, flags, self._now)

    def _on_ping(self, flags: int, opaque: int) -> None:
        rtt = self._keepalive.on_ping(flags, opaque, self._now)
        if rtt is not None:
            self.rtt = rtt
            self._events.append(PingAcknowledged(opaque, rtt))

    def _on_go_away(self, code: int) -> None:
        if code:
            self._terminate(RemoteGoAway(code))
        elif self.go_away_received is None:
            self._log.debug("yamux: the peer sent GoAway(0)")
            self.go_away_received = 0
            self._events.append(GoAwayReceived(0))

    # ---- local actions -------------------------------------------------------------------

    def open_stream(self) -> StreamRecord:
        """Open a stream: queue its WindowUpdate|SYN at once.

        Raises:
            SessionClosed: terminated, or GoAway sent or received.
            LimitExceeded: ``max_streams`` (local limit), a full outbound backlog (wait for
                a :class:`StreamEstablished` or :class:`StreamClosed` event), no ids left,
                or the memory budget refused the stream's initial window.
        """
        self._check_open()
        sid = self._next_id
        stream = self._streams.open(sid, self._now)
        self._next_id += 2
        self._out.append(window_update(sid, SYN, self.config.initial_window - DEFAULT_WINDOW))
        return stream

    def accept_stream(self, now: float) -> StreamRecord | None:
        """Take the oldest inbound stream from the backlog and queue its ACK (None if empty)."""
        if self.terminated is not None:
            return None
        stream = self._streams.pop_backlog()
        if stream is None:
            return None
        extra = self.config.initial_window - DEFAULT_WINDOW
        stream.recv_window += extra
        stream.recv_max += extra
        stream.last_update_at = now
        self._out.append(window_update(stream.stream_id, ACK, extra))
        return stream

    def send_data(self, stream: StreamRecord, data: memoryview) -> int:
        """Queue as much of ``data`` as the send window allows, in frames of at most
        ``max_frame_size`` bytes; return the number of bytes queued.

        Raises:
            YamuxProtocolError: (``remote=False``) the stream cannot send any more.
        """
        self._streams.check_send(stream)
        if self.terminated is not None:
            raise YamuxProtocolError("the session is terminated", remote=False)
        n = min(len(data), stream.send_window)
        if n <= 0:
            return 0
        stream.send_window -= n
        out = self._out
        sid = stream.stream_id
        step = self._max_frame
        for pos in range(0, n, step):
            part = data[pos : min(pos + step, n)]
            out.append(data_header(sid, len(part)))
            out.append(part)
        return n

    def read(self, stream: StreamRecord, max_bytes: int, now: float) -> bytes:
        """Take up to ``max_bytes`` buffered bytes and queue window credit when due."""
        data = stream.take(max_bytes)
        if data and stream.state in RECEIVING_STATES and self.terminated is None:
            credit = self._streams.credit(stream, now, self.rtt)
            if credit:
                self._out.append(window_update(stream.stream_id, 0, credit))
        return data

    def send_eof(self, stream: StreamRecord) -> None:
        """Half-close: queue a zero-length WindowUpdate|FIN (once)."""
        if self.terminated is None:
            self._streams.advance(stream, StreamInput.SEND_FIN, self._now)

    def close_stream(self, stream: StreamRecord, now: float | None = None) -> None:
        """The application closed the stream: drop unread data, then FIN or RST.

        RST when unread data was dropped or the peer has no credit left (it might wait
        forever); otherwise FIN, and any later data from the peer is answered with RST. A
        stream the peer has not finished by ``now + stream_close_timeout`` is reset then.
        Lingering until the peer's FIN, the stream holds no data, so it gives back its
        window memory and no longer counts as open; at most ``max_streams`` linger, the
        oldest is reset to make room.
        """
        if self.terminated is not None:
            stream.discard()
            return
        if now is not None:
            self._now = now
        if stream.state in RECEIVING_STATES and (stream.buffered or stream.recv_window == 0):
            self._streams.advance(stream, StreamInput.SEND_RST, self._now)
        elif self._streams.advance(stream, StreamInput.CLOSE, self._now) & LINGER:
            self._need_timer(self._now + self.config.stream_close_timeout)

    def reset_stream(self, stream: StreamRecord) -> None:
        """Reset the stream: queue WindowUpdate|RST and forget it."""
        if self.terminated is not None:
            stream.discard()
            return
        self._streams.advance(stream, StreamInput.SEND_RST, self._now)

    def ping(self, now: float) -> int:
        """Queue a ping; return its opaque value (answered by a PingAcknowledged event)."""
        opaque = self._keepalive.ping(now)
        self._need_timer(now + self.config.keepalive_timeout)
        return opaque

    def go_away(self, code: int = 0) -> None:
        """Queue GoAway(code) once: new inbound SYNs get RST and we open no more streams;
        existing streams carry on."""
        if not self.go_away_sent and self.terminated is None:
            self.go_away_sent = True
            self._out.append(go_away_frame(code))

    def close(self, code: int = 0) -> None:
        """Close the session locally: queue GoAway(code), then terminate."""
        self._terminate(SessionClosed("the session was closed locally"), go_away=code)

    # ---- helpers -----------------------------------------------------------------------

    def _send_frame(self, frame: bytes) -> None:
        self._out.append(frame)

    def _emit(self, event: YamuxEvent) -> None:
        self._events.append(event)

    def _check_open(self) -> None:
        if self.terminated is not None:
            raise SessionClosed("the yamux session is closed") from self.terminated
        if self.write_error is not None:
            raise SessionClosed("the yamux session is closed") from self.write_error
        if self.go_away_sent or self.go_away_received is not None:
            raise SessionClosed("the yamux session is going away: no new streams")

    def _terminate(self, error: BaseException, *, go_away: int | None = None) -> None:
        if self.terminated is not None:
            return
        if go_away is not None and not self.go_away_sent:
            self.go_away_sent = True
            self._out.append(go_away_frame(go_away))
        self.terminated = error
        self._decoder.stop()
        self._streams.clear()
        self._keepalive.clear()
        self._events.append(ConnectionTerminated(error))
