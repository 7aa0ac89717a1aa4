"""Node configuration: timeouts, limits, admission, trimming and the fault policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from p2pstack.errors import InvalidConfigError
from p2pstack.host.admission import AdmissionLimits
from p2pstack.host.limits import ConnectionLimits, Watermarks
from p2pstack.host.resources import MemoryLimits


@dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """Timeouts (seconds) and limits of a node.

    Attributes:
        negotiate_timeout: multistream-select round trips, per negotiation.
        upgrade_timeout: a whole inbound upgrade (security handshake and muxer negotiation).
        dial_timeout: one outbound dial attempt, connect and upgrade included.
        shutdown_grace: how long closing connections gracefully may take when the node stops.
        dial_stagger: when a peer has several addresses, the next attempt starts after this long (or
            as soon as the previous one fails); the first connection wins and the others are
            cancelled.
        idle_timeout: close a connection that has had no stream for this long (None: never).
            Connections with open streams or ``keep_alive`` set are never closed as idle.
        limits: connection and stream counts; the resource manager enforces them as scopes.
        memory: bytes each resource scope may hold (system, transient, peer, connection, stream...).
        admission: per-IP/subnet limits on inbound connections, eviction, allowlisted networks.
        watermarks: trim the least useful connections when there are more than ``high_water``.
        allow_peers: peer ids (base58) exempt from connection count limits and never trimmed.
        handler_errors: what an exception from a stream handler (other than a network error) does:
            ``"reset"`` resets the stream, logs it and counts it (the node carries on); ``"raise"``
            also ends the node with :class:`~p2pstack.host.boundary.HandlerFailed` (for development:
            the user's own bugs propagate). Remote-caused errors never propagate.
        relay_fallback: retry a dial whose direct addresses all failed through the node's
            dialing relays (``Node.add_dialing_relay``); off by default. The initial value of
            ``Node.relay_fallback``, which switches it at run time.
        prefer_quic: dial a peer's ``/quic-v1`` addresses before its other ones (go-libp2p's
            order). Off by default: QUIC here runs on aioquic's pure-Python packet handling,
            measured at 0.03-0.04x the throughput of TCP+Noise+Yamux in one run
            (docs/benchmarks.md), so a peer known on both is dialled over TCP first. QUIC-only
            peers are dialled over QUIC either way.
    """

    negotiate_timeout: float = 10.0
    upgrade_timeout: float = 15.0
    dial_timeout: float = 30.0
    shutdown_grace: float = 2.0
    dial_stagger: float = 0.25
    idle_timeout: float | None = 120.0
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    memory: MemoryLimits = field(default_factory=MemoryLimits)
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    watermarks: Watermarks = field(default_factory=Watermarks)
    allow_peers: frozenset[str] = frozenset()
    handler_errors: Literal["reset", "raise"] = "reset"
    relay_fallback: bool = False
    prefer_quic: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.relay_fallback, bool):
            raise InvalidConfigError("relay_fallback must be True or False")
        if not isinstance(self.prefer_quic, bool):
            raise InvalidConfigError("prefer_quic must be True or False")
        if self.handler_errors not in ("reset", "raise"):
            raise InvalidConfigError("handler_errors must be 'reset' or 'raise'")
        for name in ("negotiate_timeout", "upgrade_timeout", "dial_timeout"):
            if getattr(self, name) <= 0:
                raise InvalidConfigError(f"{name} must be positive")
        if self.shutdown_grace < 0 or self.dial_stagger < 0:
            raise InvalidConfigError("shutdown_grace and dial_stagger must not be negative")
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise InvalidConfigError("idle_timeout must be positive (or None)")
