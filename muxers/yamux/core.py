"""The sans-IO Yamux session state machine.

:class:`YamuxCore` takes bytes in (:meth:`~YamuxCore.receive_data`), produces events
(:meth:`~YamuxCore.next_events`) and queues frames (:meth:`~YamuxCore.data_to_send`). Time
enters as ``now`` arguments; :meth:`~YamuxCore.get_timer` and :meth:`~YamuxCore.handle_timer`
drive keepalive pings, ping and write timeouts and the release of closed streams. It never
does I/O and never blocks.

Bounds: pings and their answers are *control* frames, kept apart (at most ``ping_backlog``
unsent answers) and handed out ahead of queued stream frames (:meth:`~YamuxCore.take_control`);
every byte of receive window granted to the peer is reserved from a
:class:`~p2pstack.host.resources.MemoryBudget` and released when the stream is forgotten.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque

from p2pstack.abc.budget import UNLIMITED, MemoryBudget
from p2pstack.errors import LimitExceeded
from p2pstack.muxers.yamux.config import YamuxConfig
from p2pstack.muxers.yamux.errors import (
    ConnectionLost,
    KeepAliveTimeout,
    RemoteGoAway,
    SessionClosed,
    StreamIdError,
    WindowExceededError,
    WriteTimeout,
    YamuxProtocolError,
)
from p2pstack.muxers.yamux.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    GoAwayReceived,
    PingAcknowledged,
    StreamClosed,
    StreamEnded,
    StreamEstablished,
    StreamOpened,
    StreamReset,
    WindowUpdated,
)
from p2pstack.muxers.yamux.frames import (
    DEFAULT_WINDOW,
    HEADER,
    HEADER_SIZE,
    MAX_U32,
    check_version_and_type,
)
from p2pstack.muxers.yamux.stream_state import StreamState

_DATA, _WINDOW_UPDATE, _PING, _GO_AWAY = 0, 1, 2, 3
_SYN, _ACK, _FIN, _RST = 0x1, 0x2, 0x4, 0x8

__all__ = [
    "ConnectionTerminated",
    "DataReceived",
    "Event",
    "GoAwayReceived",
    "PingAcknowledged",
    "StreamClosed",
    "StreamEnded",
    "StreamEstablished",
    "StreamOpened",
    "StreamReset",
    "WindowUpdated",
    "YamuxCore",
]

#: A received payload slice smaller than 1/_PIN_RATIO of the chunk it came in is copied, so
#: small frames cannot pin large receive buffers in memory (full 64 KiB frames in the
#: session's reads of up to 512 KiB, or a little more, are kept as views: no copy).
_PIN_RATIO = 32


class YamuxCore:
    """One Yamux session, without I/O.

    Args:
        config: the settings (defaults when None).
        is_initiator: True for the connection dialer (odd stream ids), False otherwise.
        now: the current time, used for the RTT ping sent at start.
        memory: the budget every byte of receive window granted to the peer is reserved
            from (the initial window of each stream, and each auto-tuned growth).

    Attributes:
        dropped_pongs: pings of the peer left unanswered because ``ping_backlog`` answers
            were already waiting to be written.
        timer_dirty: set when a deadline earlier than the last :meth:`get_timer` result
            appeared; the driver clears it and calls :meth:`get_timer` again.
    """

    def __init__(
        self,
        config: YamuxConfig | None = None,
        *,
        is_initiator: bool,
        now: float = 0.0,
        logger: logging.Logger | None = None,
        memory: MemoryBudget | None = None,
    ) -> None:
        self.config = cfg = config or YamuxConfig()
        self.is_initiator = is_initiator
        self._memory: MemoryBudget = UNLIMITED if memory is None else memory
        self._log = logger or logging.getLogger("p2pstack.yamux")
        self._next_id = 1 if is_initiator else 2
        self._peer_parity = 0 if is_initiator else 1
        self._streams: dict[int, StreamState] = {}
        self._backlog: deque[StreamState] = deque()
        self._outbound_pending = 0
        self._out: list[bytes | memoryview] = []
        self._events: list[Event] = []
        self._partial_header = bytearray()
        self._payload_left = 0
        self._payload_sid = 0
        self._payload_flags = 0
        self._payload_stream: StreamState | None = None
        self._max_frame = cfg.max_frame_size
        self._tuned_total = 0
        self.terminated: BaseException | None = None
        self.go_away_sent = False
        self.go_away_received: int | None = None
        self._pings: dict[int, float] = {}
        self._next_ping = 0
        self._unsent_pings: list[int] = []
        self._pongs: list[int] = []
        self.dropped_pongs = 0
        self.rtt: float | None = None
        self._now = now
        self._last_ping_at = now
        self._last_received_at = now
        self._write_since: float | None = None
        # Streams we closed (FIN sent) that the peer has not finished: id -> (deadline, state)
        self._closing: OrderedDict[int, tuple[float, StreamState]] = OrderedDict()
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
        return len(self._streams) - len(self._closing)

    @property
    def outbound_backlog_full(self) -> bool:
        """True while ``accept_backlog`` of our streams wait for the peer's answer."""
        return self._outbound_pending >= self.config.accept_backlog

    @property
    def pending_accepts(self) -> int:
        """Inbound streams waiting in the accept backlog."""
        return len(self._backlog)

    def next_events(self) -> list[Event]:
        """Return and clear the events produced so far."""
        events = self._events
        self._events = []
        return events

    @property
    def has_control(self) -> bool:
        """True while pings or ping answers wait for :meth:`take_control`."""
        return bool(self._pongs or self._unsent_pings)

    def data_to_send(self, *, control: bool = True) -> list[bytes | memoryview]:
        """Return and clear the queued output buffers, in order.

        With ``control`` the waiting pings and ping answers come first (as if
        :meth:`take_control` had been called now); without, they stay queued. Data frame
        payloads are views of the buffers given to :meth:`send_data`: serialize (e.g.
        ``b"".join``) them before those buffers may change.
        """
        out = self._out
        self._out = []
        if control and self.has_control:
            out.insert(0, self.take_control())
        return out

    def take_control(self, now: float | None = None) -> bytes:
        """Return and clear the waiting control frames: our pings, then ping answers.

        Call it right before writing to the transport: with ``now``, our pings' answer
        deadlines (and RTTs) count from then instead of from :meth:`ping`; answers not
        taken yet stay bounded by ``ping_backlog``.
        """
        pack = HEADER.pack
        frames = []
        for opaque in self._unsent_pings:
            if now is not None and opaque in self._pings:
                self._pings[opaque] = now
            frames.append(pack(0, _PING, _SYN, 0, opaque))
        frames.extend(pack(0, _PING, _ACK, 0, opaque) for opaque in self._pongs)
        self._unsent_pings.clear()
        self._pongs.clear()
        return b"".join(frames)

    def write_started(self, now: float) -> None:
        """The driver starts a transport write; it must end within ``write_timeout``."""
        self._write_since = now
        self._need_timer(now + self.config.write_timeout)

    def write_finished(self) -> None:
        """The transport write started last has completed."""
        self._write_since = None

    def get_timer(self) -> float | None:
        """The time at which :meth:`handle_timer` should be called next, or None."""
        self.timer_dirty = False
        when = math.inf
        if self.terminated is None:
            cfg = self.config
            if self._pings:
                when = self._ping_deadline()
            if cfg.keepalive_interval is not None:
                when = min(when, self._last_ping_at + cfg.keepalive_interval)
            if self._write_since is not None:
                when = min(when, self._write_since + cfg.write_timeout)
            if self._closing:
                when = min(when, self._first_close_deadline())
        self._armed = when
        return None if when == math.inf else when

    def _first_close_deadline(self) -> float:
        return self._closing[next(iter(self._closing))][0]

    def _ping_deadline(self) -> float:
        sent = min(self._pings.values())
        return max(sent, self._last_received_at) + self.config.keepalive_timeout

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
        self._now = self._last_received_at = now
        try:
            self._parse(memoryview(data))
        except YamuxProtocolError as exc:
            self._terminate(exc, go_away=exc.error_code)
            raise

    def receive_eof(self) -> None:
        """The transport reached EOF: terminate with :class:`ConnectionLost`."""
        after = " after GoAway" if self.go_away_received is not None else ""
        self._terminate(ConnectionLost(f"the peer closed the connection{after}"))

    def connection_lost(self, exc: BaseException) -> None:
        """The transport failed: terminate with :class:`ConnectionLost` caused by ``exc``."""
        lost = ConnectionLost(f"the connection failed: {exc}")
        lost.__cause__ = exc
        self._terminate(lost)

    def handle_timer(self, now: float) -> None:
        """Act on what is due: end the session on a ping or write timeout, reset streams
        whose peer did not finish within ``stream_close_timeout`` of our close, and send a
        keepalive ping (none while one is unanswered)."""
        if self.terminated is not None:
            return
        self._now = now
        cfg = self.config
        if self._write_since is not None and self._write_since + cfg.write_timeout <= now:
            self._terminate(
                WriteTimeout(f"a transport write made no progress for {cfg.write_timeout} s")
            )
            return
        if self._pings and self._ping_deadline() <= now:
            self._terminate(
                KeepAliveTimeout(
                    f"no ping answer, and nothing from the peer, for {cfg.keepalive_timeout} s"
                )
            )
            return
        while self._closing and self._first_close_deadline() <= now:
            stream = self._closing.popitem(last=False)[1][1]
            self._log.debug(
                "yamux: stream %d not finished by the peer %s s after our close; resetting it",
                stream.stream_id,
                cfg.stream_close_timeout,
            )
            self.reset_stream(stream)
        interval = cfg.keepalive_interval
        if interval is not None and self._last_ping_at + interval <= now:
            if self._pings:
                self._last_ping_at = now
            else:
                self.ping(now)

    def _parse(self, view: memoryview) -> None:
        end = len(view)
        pos = self._feed_payload(view, 0) if self._payload_left else 0
        partial = self._partial_header
        unpack_from = HEADER.unpack_from
        while self.terminated is None:
            if partial:
                take = min(HEADER_SIZE - len(partial), end - pos)
                partial += view[pos : pos + take]
                pos += take
                if len(partial) < HEADER_SIZE:
                    return
                version, ftype, flags, sid, length = unpack_from(partial)
                partial.clear()
            elif end - pos >= HEADER_SIZE:
                version, ftype, flags, sid, length = unpack_from(view, pos)
                pos += HEADER_SIZE
            else:
                if pos < end:
                    partial += view[pos:end]
                return
            if version or ftype > _GO_AWAY:
                check_version_and_type(version, ftype)
            if ftype == _DATA:
                self._payload_stream = self._on_data_header(sid, flags, length)
                self._payload_left = length
                self._payload_sid = sid
                self._payload_flags = flags
                pos = self._feed_payload(view, pos)
            elif ftype == _WINDOW_UPDATE:
                self._on_window_update(sid, flags, length)
            elif ftype == _PING:
                self._on_ping(flags, length)
            else:
                self._on_go_away(length)

    def _feed_payload(self, view: memoryview, pos: int) -> int:
        """Deliver (or drain) payload bytes of the current Data frame; return the new pos."""
        take = min(self._payload_left, len(view) - pos)
        if take:
            self._payload_left -= take
            stream = self._payload_stream
            if stream is not None:
                chunk: memoryview | bytes = view[pos : pos + take]
                if take * _PIN_RATIO < len(view):
                    chunk = bytes(chunk)
                stream.chunks.append(chunk)
                stream.buffered += take
                self._events.append(DataReceived(stream.stream_id, take))
        if not self._payload_left:
            flags = self._payload_flags
            self._payload_stream = None
            if flags & (_FIN | _RST):
                stream = self._streams.get(self._payload_sid)
                if stream is not None:
                    self._close_flags(stream, flags)
        return pos + take

    def _on_data_header(self, sid: int, flags: int, length: int) -> StreamState | None:
        """Validate a Data header; return the stream its payload goes to (None = drain)."""
        stream = self._frame_stream(sid, flags)
        if stream is None or stream.remote_fin or not length:
            return None
        if stream.closed_locally:
            if not flags & _RST:
                self._log.debug("yamux: data on closed stream %d, resetting it", sid)
                self._send_rst(stream)
                self._remove(stream)
            return None
        if length > stream.recv_window:
            raise WindowExceededError(
                f"stream {sid}: {length} bytes exceed the receive window {stream.recv_window}"
            )
        stream.recv_window -= length
        return stream

    def _frame_stream(self, sid: int, flags: int) -> StreamState | None:
        """Handle SYN/ACK of a stream frame; return the live stream (None = ignore it)."""
        if flags & _SYN:
            return self._on_syn(sid)
        stream = self._streams.get(sid)
        if stream is not None and not stream.established:
            # Any frame from the peer (ACK or not) establishes our outbound stream.
            stream.established = True
            self._outbound_pending -= 1
            self._events.append(StreamEstablished(sid))
        return stream

    def _on_syn(self, sid: int) -> StreamState | None:
        if sid == 0 or sid & 1 != self._peer_parity:
            raise StreamIdError(f"SYN with stream id {sid} of our own parity (or zero)")
        if sid in self._streams:
            raise StreamIdError(f"SYN for stream {sid}, which is already open")
        cfg = self.config
        if self.go_away_sent:
            reason = "we sent GoAway"
        elif self.go_away_received is not None:
            reason = "the peer sent GoAway"
        elif self.num_open_streams >= cfg.max_streams:
            reason = f"the local max_streams limit ({cfg.max_streams}) is reached"
        elif len(self._backlog) >= cfg.accept_backlog:
            reason = f"the accept backlog ({cfg.accept_backlog}) is full"
        else:
            try:
                self._memory.reserve_memory(cfg.initial_window)
            except LimitExceeded as exc:
                reason = f"no memory for its window: {exc}"
            else:
                stream = StreamState(sid, outbound=False, now=self._now)
                stream.reserved = cfg.initial_window
                self._streams[sid] = stream
                self._backlog.append(stream)
                self._events.append(StreamOpened(sid))
                return stream
        self._log.debug("yamux: rejecting inbound stream %d: %s", sid, reason)
        self._out.append(HEADER.pack(0, _WINDOW_UPDATE, _RST, sid, 0))
        return None

    def _on_window_update(self, sid: int, flags: int, length: int) -> None:
        stream = self._frame_stream(sid, flags)
        if stream is None:
            return
        if length:
            stream.send_window += length
            self._events.append(WindowUpdated(sid))
        if flags & (_FIN | _RST):
            self._close_flags(stream, flags)

    def _close_flags(self, stream: StreamState, flags: int) -> None:
        sid = stream.stream_id
        if flags & _RST:
            stream.reset = stream.reset_by_peer = True
            stream.discard()
            self._events.append(StreamReset(sid))
            self._remove(stream)
        elif not stream.remote_fin:
            stream.remote_fin = True
            self._events.append(StreamEnded(sid))
            if stream.local_fin or stream.closed_locally:
                self._remove(stream)

    def _on_ping(self, flags: int, opaque: int) -> None:
        if flags & _SYN:
            if len(self._pongs) < self.config.ping_backlog:
                self._pongs.append(opaque)
            else:
                self.dropped_pongs += 1
                if self.dropped_pongs & (self.dropped_pongs - 1) == 0:  # 1, 2, 4, 8...
                    self._log.debug(
                        "yamux: %d pings of the peer left unanswered (it does not read)",
                        self.dropped_pongs,
                    )
        elif flags & _ACK:
            sent = self._pings.pop(opaque, None)
            if sent is not None:
                self.rtt = rtt = max(self._now - sent, 0.0)
                self._events.append(PingAcknowledged(opaque, rtt))

    def _on_go_away(self, code: int) -> None:
        if code:
            self._terminate(RemoteGoAway(code))
        elif self.go_away_received is None:
            self._log.debug("yamux: the peer sent GoAway(0)")
            self.go_away_received = 0
            self._events.append(GoAwayReceived(0))

    # ---- local actions -------------------------------------------------------------------

    def open_stream(self) -> StreamState:
        """Open a stream: queue its WindowUpdate|SYN at once.

        Raises:
            SessionClosed: terminated, or GoAway sent or received.
            LimitExceeded: ``max_streams`` (local limit), a full outbound backlog (wait for
                a :class:`StreamEstablished` or :class:`StreamClosed` event), no ids left,
                or the memory budget refused the stream's initial window.
        """
        self._check_open()
        cfg = self.config
        if self.num_open_streams >= cfg.max_streams:
            raise LimitExceeded(
                f"cannot open a stream: the local yamux max_streams limit "
                f"({cfg.max_streams}) is reached",
                limit="yamux.max_streams",
            )
        if self.outbound_backlog_full:
            raise LimitExceeded(
                f"{cfg.accept_backlog} opened streams are waiting for the peer's answer",
                limit="yamux.accept_backlog",
            )
        sid = self._next_id
        if sid > MAX_U32:
            raise LimitExceeded("yamux stream ids are exhausted", limit="yamux.stream_ids")
        self._memory.reserve_memory(cfg.initial_window)
        self._next_id += 2
        stream = StreamState(sid, outbound=True, now=self._now)
        stream.reserved = cfg.initial_window
        extra = cfg.initial_window - DEFAULT_WINDOW
        stream.recv_window = stream.recv_max = cfg.initial_window
        self._streams[sid] = stream
        self._outbound_pending += 1
        self._out.append(HEADER.pack(0, _WINDOW_UPDATE, _SYN, sid, extra))
        return stream

    def accept_stream(self, now: float) -> StreamState | None:
        """Take the oldest inbound stream from the backlog and queue its ACK (None if empty)."""
        if not self._backlog or self.terminated is not None:
            return None
        stream = self._backlog.popleft()
        extra = self.config.initial_window - DEFAULT_WINDOW
        stream.recv_window += extra
        stream.recv_max += extra
        stream.last_update_at = now
        self._out.append(HEADER.pack(0, _WINDOW_UPDATE, _ACK, stream.stream_id, extra))
        return stream

    def send_data(self, stream: StreamState, data: memoryview) -> int:
        """Queue as much of ``data`` as the send window allows, in frames of at most
        ``max_frame_size`` bytes; return the number of bytes queued.

        Raises:
            YamuxProtocolError: (``remote=False``) the stream cannot send any more.
        """
        self._check_can_send(stream)
        n = min(len(data), stream.send_window)
        if n <= 0:
            return 0
        stream.send_window -= n
        out = self._out
        pack = HEADER.pack
        sid = stream.stream_id
        step = self._max_frame
        for pos in range(0, n, step):
            part = data[pos : min(pos + step, n)]
            out.append(pack(0, _DATA, 0, sid, len(part)))
            out.append(part)
        return n

    def read(self, stream: StreamState, max_bytes: int, now: float) -> bytes:
        """Take up to ``max_bytes`` buffered bytes and queue window credit when due."""
        data = stream.take(max_bytes)
        if data and not (stream.remote_fin or stream.removed or stream.closed_locally):
            cfg = self.config
            budget = cfg.connection_window_budget - self._tuned_total
            before = stream.tuned
            credit = stream.window_credit(now, self.rtt, cfg.max_window, budget, self._memory)
            if credit:
                self._tuned_total += stream.tuned - before
                self._out.append(HEADER.pack(0, _WINDOW_UPDATE, 0, stream.stream_id, credit))
        return data

    def send_eof(self, stream: StreamState) -> None:
        """Half-close: queue a zero-length WindowUpdate|FIN (once)."""
        if stream.local_fin or stream.reset or stream.removed:
            return
        stream.local_fin = True
        self._out.append(HEADER.pack(0, _WINDOW_UPDATE, _FIN, stream.stream_id, 0))
        if stream.remote_fin:
            self._remove(stream)

    def close_stream(self, stream: StreamState, now: float | None = None) -> None:
        """The application closed the stream: drop unread data, then FIN or RST.

        RST when unread data was dropped or the peer has no credit left (it might wait
        forever); otherwise FIN, and any later data from the peer is answered with RST. A
        stream the peer has not finished by ``now + stream_close_timeout`` is reset then.
        """
        if stream.closed_locally:
            return
        stream.closed_locally = True
        dropped = stream.discard()
        if stream.removed or stream.reset:
            return
        if not stream.remote_fin and (dropped or stream.recv_window == 0):
            self.reset_stream(stream)
            return
        if not stream.local_fin:
            stream.local_fin = True
            self._out.append(HEADER.pack(0, _WINDOW_UPDATE, _FIN, stream.stream_id, 0))
        if stream.remote_fin:
            self._remove(stream)
            return
        # Lingering until the peer's FIN: it holds no data (later data is answered with
        # RST), so it gives back its window memory and no longer counts as open; at most
        # max_streams linger, the oldest is reset to make room.
        self._release(stream)
        if len(self._closing) >= self.config.max_streams:
            _, oldest = next(iter(self._closing.values()))
            self.reset_stream(oldest)
        deadline = (self._now if now is None else now) + self.config.stream_close_timeout
        self._closing[stream.stream_id] = (deadline, stream)
        self._need_timer(deadline)

    def reset_stream(self, stream: StreamState) -> None:
        """Reset the stream: queue WindowUpdate|RST and forget it."""
        stream.closed_locally = True
        stream.discard()
        if stream.removed or stream.reset:
            return
        stream.reset = True
        self._send_rst(stream)
        self._remove(stream)

    def ping(self, now: float) -> int:
        """Queue a ping; return its opaque value (answered by a PingAcknowledged event)."""
        opaque = self._next_ping
        self._next_ping = (opaque + 1) & MAX_U32
        self._pings[opaque] = now
        self._last_ping_at = now
        self._unsent_pings.append(opaque)
        self._need_timer(now + self.config.keepalive_timeout)
        return opaque

    def go_away(self, code: int = 0) -> None:
        """Queue GoAway(code) once: new inbound SYNs get RST and we open no more streams;
        existing streams carry on."""
        if not self.go_away_sent and self.terminated is None:
            self.go_away_sent = True
            self._out.append(HEADER.pack(0, _GO_AWAY, 0, 0, code))

    def close(self, code: int = 0) -> None:
        """Close the session locally: queue GoAway(code), then terminate."""
        self._terminate(SessionClosed("the session was closed locally"), go_away=code)

    # ---- helpers -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.terminated is not None:
            raise SessionClosed("the yamux session is closed") from self.terminated
        if self.go_away_sent or self.go_away_received is not None:
            raise SessionClosed("the yamux session is going away: no new streams")

    def _check_can_send(self, stream: StreamState) -> None:
        if stream.local_fin or stream.reset or stream.closed_locally or stream.removed:
            raise YamuxProtocolError(f"stream {stream.stream_id} cannot send", remote=False)
        if self.terminated is not None:
            raise YamuxProtocolError("the session is terminated", remote=False)

    def _send_rst(self, stream: StreamState) -> None:
        if not stream.rst_sent:
            stream.rst_sent = True
            self._out.append(HEADER.pack(0, _WINDOW_UPDATE, _RST, stream.stream_id, 0))

    def _remove(self, stream: StreamState) -> None:
        if stream.removed:
            return
        stream.removed = True
        sid = stream.stream_id
        del self._streams[sid]
        self._closing.pop(sid, None)
        if not stream.established:
            stream.established = True
            self._outbound_pending -= 1
        elif not stream.outbound and stream in self._backlog:
            self._backlog.remove(stream)
        self._tuned_total -= stream.tuned
        self._release(stream)
        self._events.append(StreamClosed(sid))

    def _release(self, stream: StreamState) -> None:
        if stream.reserved:
            self._memory.release_memory(stream.reserved)
            stream.reserved = 0

    def _terminate(self, error: BaseException, *, go_away: int | None = None) -> None:
        if self.terminated is not None:
            return
        if go_away is not None and not self.go_away_sent:
            self.go_away_sent = True
            self._out.append(HEADER.pack(0, _GO_AWAY, 0, 0, go_away))
        self.terminated = error
        for stream in self._streams.values():
            stream.removed = True
            self._release(stream)
        self._streams.clear()
        self._backlog.clear()
        self._closing.clear()
        self._pings.clear()
        self._unsent_pings.clear()
        self._pongs.clear()
        self._events.append(ConnectionTerminated(error))
