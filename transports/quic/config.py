"""QUIC transport options."""

from __future__ import annotations

from dataclasses import dataclass

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
    """

    handshake_timeout: float = 10.0
    idle_timeout: float = 30.0
    keepalive_interval: float | None = 10.0
    stream_window: int = 256 * 1024
    connection_window: int = 4 * 1024 * 1024
    max_inbound_streams: int = 256
    max_pending_handshakes: int = 128
    max_datagram_size: int = 1350

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
