"""QUIC transport options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from p2pstack.errors import InvalidConfigError


@dataclass(frozen=True, kw_only=True, slots=True)
class QuicConfig:
    """QUIC options (defaults in brackets).

    - ``handshake_timeout`` (10 s): bounds one handshake (dial or accept).
    - ``idle_timeout`` (30 s): a connection silent this long is closed (QUIC's max idle
      timeout; the smaller of both ends' values applies).
    - ``keepalive_interval`` (10 s; None disables): a PING after this long without sending,
      so an idle but wanted connection stays open (and NAT bindings alive).
    - ``stream_window`` (256 KiB): unread bytes a peer may send on one stream.
    - ``connection_window`` (4 MiB): unread bytes a peer may send on all streams together;
      reserved from the connection's memory budget.
    - ``max_inbound_streams`` (256): streams the peer opened that we have not accepted yet;
      more are reset.
    - ``max_pending_handshakes`` (128): handshakes a listener runs at once; Initial packets
      for more new connections are dropped.
    - ``max_datagram_size`` (1350): UDP payload size we send at most.
    - ``retry`` ("under-load"): when a listener answers a client's first Initial with a Retry
      (stateless address validation, one extra round trip) instead of starting a handshake:
      ``"always"``, ``"under-load"`` (once ``retry_threshold`` handshakes are pending) or
      ``"never"``. Under load, Initials from forged addresses can hold at most
      ``retry_threshold`` handshake slots; the rest go to clients that answered a Retry.
    - ``retry_threshold`` (32): pending handshakes from which ``"under-load"`` sends Retry
      (capped at ``max_pending_handshakes``).
    """

    handshake_timeout: float = 10.0
    idle_timeout: float = 30.0
    keepalive_interval: float | None = 10.0
    stream_window: int = 256 * 1024
    connection_window: int = 4 * 1024 * 1024
    max_inbound_streams: int = 256
    max_pending_handshakes: int = 128
    max_datagram_size: int = 1350
    retry: Literal["always", "under-load", "never"] = "under-load"
    retry_threshold: int = 32

    def __post_init__(self) -> None:
        for name in ("handshake_timeout", "idle_timeout"):
            if not getattr(self, name) > 0:
                raise InvalidConfigError(f"{name} must be positive")
        if self.keepalive_interval is not None and not (
            0 < self.keepalive_interval < self.idle_timeout
        ):
            raise InvalidConfigError("keepalive_interval must be positive and below idle_timeout")
        if self.stream_window < 16 * 1024:
            raise InvalidConfigError("stream_window must be at least 16 KiB")
        if self.connection_window < self.stream_window:
            raise InvalidConfigError("connection_window must be at least stream_window")
        if self.max_inbound_streams < 1 or self.max_pending_handshakes < 1:
            raise InvalidConfigError("max_inbound_streams and max_pending_handshakes must be >= 1")
        if not 1200 <= self.max_datagram_size <= 65527:
            raise InvalidConfigError("max_datagram_size must be within 1200..65527")
        if self.retry not in ("always", "under-load", "never"):
            raise InvalidConfigError("retry must be 'always', 'under-load' or 'never'")
        if self.retry_threshold < 0:
            raise InvalidConfigError("retry_threshold must be >= 0")
