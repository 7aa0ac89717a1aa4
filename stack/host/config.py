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
    """Timeouts (seconds) and limits of a node."""

    negotiate_timeout: float = 10.0
    """multistream-select round trips, per negotiation."""
    upgrade_timeout: float = 15.0
    """A whole inbound upgrade (security handshake and muxer negotiation)."""
    dial_timeout: float = 30.0
    """One outbound dial attempt, connect and upgrade included."""
    shutdown_grace: float = 2.0
    """How long closing connections gracefully may take when the node stops."""
    dial_stagger: float = 0.25
    """When a peer has several addresses, the next attempt starts after this long (or as soon
    as the previous one fails); the first connection wins and the others are cancelled."""
    idle_timeout: float | None = 120.0
    """Close a connection that has had no stream for this long (None: never). Connections
    with open streams or ``keep_alive`` set are never closed as idle."""
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    """Connection and stream counts; the resource manager enforces them as scopes."""
    memory: MemoryLimits = field(default_factory=MemoryLimits)
    """Bytes each resource scope may hold (system, transient, peer, connection, stream...)."""
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    """Per-IP/subnet limits on inbound connections, eviction, allowlisted networks."""
    watermarks: Watermarks = field(default_factory=Watermarks)
    """Trim the least useful connections when there are more than ``high_water``."""
    allow_peers: frozenset[str] = frozenset()
    """Peer ids (base58) exempt from connection count limits and never trimmed."""
    handler_errors: Literal["reset", "raise"] = "reset"
    """What an exception from a stream handler (other than a network error) does:
    ``"reset"`` resets the stream, logs it and counts it (the node carries on);
    ``"raise"`` also ends the node with :class:`~p2pstack.host.boundary.HandlerFailed` (for
    development: the user's own bugs propagate). Remote-caused errors never propagate."""

    def __post_init__(self) -> None:
        if self.handler_errors not in ("reset", "raise"):
            raise InvalidConfigError("handler_errors must be 'reset' or 'raise'")
        for name in ("negotiate_timeout", "upgrade_timeout", "dial_timeout"):
            if getattr(self, name) <= 0:
                raise InvalidConfigError(f"{name} must be positive")
        if self.shutdown_grace < 0 or self.dial_stagger < 0:
            raise InvalidConfigError("shutdown_grace and dial_stagger must not be negative")
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise InvalidConfigError("idle_timeout must be positive (or None)")
