"""Keepalive: the control frames and liveness deadlines of one Yamux session (sans-IO).

It owns our pings (RTT measurement and keepalive), the answers owed to the peer's pings (at
most ``ping_backlog``), and the two deadlines that end a session: a ping of ours unanswered
while nothing arrives (``keepalive_timeout``) and a transport write that does not finish
(``write_timeout``). Time enters as ``now`` arguments.
"""

from __future__ import annotations

import logging
import math

from p2pstack.muxers.yamux.config import YamuxConfig
from p2pstack.muxers.yamux.errors import KeepAliveTimeout, WriteTimeout, YamuxError
from p2pstack.muxers.yamux.frames import ACK, MAX_U32, SYN, ping_frame


class Keepalive:
    """Pings, ping answers and the liveness deadlines, owned by the core.

    Attributes:
        has_control: pings or ping answers wait for :meth:`take_control`.
        dropped_pongs: pings of the peer left unanswered because ``ping_backlog`` answers
            were already waiting to be written.
    """

    __slots__ = (
        "_config",
        "_last_ping_at",
        "_last_received_at",
        "_log",
        "_next_ping",
        "_pings",
        "_pongs",
        "_unsent",
        "_write_since",
        "dropped_pongs",
        "has_control",
    )

    def __init__(self, config: YamuxConfig, now: float, logger: logging.Logger) -> None:
        self._config = config
        self._log = logger
        self._pings: dict[int, float] = {}  # opaque -> when it was (handed to be) sent
        self._next_ping = 0
        self._unsent: list[int] = []
        self._pongs: list[int] = []
        self.dropped_pongs = 0
        self._last_ping_at = now
        self._last_received_at = now
        self._write_since: float | None = None
        self.has_control = False

    def ping(self, now: float) -> int:
        """Queue a ping; return its opaque value."""
        opaque = self._next_ping
        self._next_ping = (opaque + 1) & MAX_U32
        self._pings[opaque] = now
        self._last_ping_at = now
        self._unsent.append(opaque)
        self.has_control = True
        return opaque

    def received(self, now: float) -> None:
        """Bytes arrived from the peer: it is alive."""
        self._last_received_at = now

    def on_ping(self, flags: int, opaque: int, now: float) -> float | None:
        """A Ping frame arrived: owe an answer (SYN), or return the RTT of ours (ACK)."""
        if flags & SYN:
            if len(self._pongs) < self._config.ping_backlog:
                self._pongs.append(opaque)
                self.has_control = True
            else:
                self.dropped_pongs += 1
                if self.dropped_pongs & (self.dropped_pongs - 1) == 0:  # 1, 2, 4, 8...
                    self._log.debug(
                        "yamux: %d pings of the peer left unanswered (it does not read)",
                        self.dropped_pongs,
                    )
        elif flags & ACK:
            sent = self._pings.pop(opaque, None)
            if sent is not None:
                return max(now - sent, 0.0)
        return None

    def take_control(self, now: float | None = None) -> bytes:
        """Return and clear the waiting control frames: our pings, then ping answers.

        With ``now``, our pings' answer deadlines (and RTTs) count from then.
        """
        frames = []
        pings = self._pings
        for opaque in self._unsent:
            if now is not None and opaque in pings:
                pings[opaque] = now
            frames.append(ping_frame(SYN, opaque))
        frames.extend(ping_frame(ACK, opaque) for opaque in self._pongs)
        self._unsent.clear()
        self._pongs.clear()
        self.has_control = False
        return b"".join(frames)

    def write_started(self, now: float) -> float:
        """A transport write starts; return its deadline."""
        self._write_since = now
        return now + self._config.write_timeout

    def write_finished(self) -> None:
        """The transport write started last has completed."""
        self._write_since = None

    def deadline(self) -> float:
        """The earliest time :meth:`expired` or :meth:`due_ping` may act (``inf``: never)."""
        cfg = self._config
        when = math.inf
        if self._pings:
            when = self._ping_deadline()
        if cfg.keepalive_interval is not None:
            when = min(when, self._last_ping_at + cfg.keepalive_interval)
        if self._write_since is not None:
            when = min(when, self._write_since + cfg.write_timeout)
        return when

    def expired(self, now: float) -> YamuxError | None:
        """The error that ends the session at ``now`` (a write or ping timeout), or None."""
        cfg = self._config
        if self._write_since is not None and self._write_since + cfg.write_timeout <= now:
            return WriteTimeout(f"a transport write made no progress for {cfg.write_timeout} s")
        if self._pings and self._ping_deadline() <= now:
            return KeepAliveTimeout(
                f"no ping answer, and nothing from the peer, for {cfg.keepalive_timeout} s"
            )
        return None

    def due_ping(self, now: float) -> bool:
        """True when a keepalive ping should be sent now (never while one is unanswered)."""
        interval = self._config.keepalive_interval
        if interval is None or self._last_ping_at + interval > now:
            return False
        if self._pings:
            self._last_ping_at = now
            return False
        return True

    def clear(self) -> None:
        """The session ended: forget every ping and answer."""
        self._pings.clear()
        self._unsent.clear()
        self._pongs.clear()
        self.has_control = False

    def _ping_deadline(self) -> float:
        sent = min(self._pings.values())
        return max(sent, self._last_received_at) + self._config.keepalive_timeout
