"""Resource limits of a node: connections, pending handshakes and streams.

Every refusal raises (or logs, for inbound work) :class:`~stack.errors.LimitExceeded` naming
the limit, e.g. ``connections.inbound`` or ``streams.protocol./ipfs/ping/1.0.0.inbound``, and
whether it is ours (``local=True``) or the peer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import InvalidConfigError, LimitExceeded


@dataclass(frozen=True, kw_only=True, slots=True)
class ProtocolLimit:
    """Concurrent streams of one protocol on one connection, per direction."""

    inbound: int
    outbound: int

    def __post_init__(self) -> None:
        if self.inbound < 0 or self.outbound < 0:
            raise InvalidConfigError("protocol stream limits must not be negative")


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionLimits:
    """Limits on connections and streams. ``None`` disables a limit."""

    max_connections: int | None = 512
    max_inbound: int | None = 256
    max_outbound: int | None = 256
    max_per_peer: int | None = 2
    """Two allow a simultaneous connect while the duplicate is being retired."""
    max_pending_inbound: int | None = 64
    """Inbound connections still in their security/muxer handshake."""
    max_pending_outbound: int | None = 64
    max_inbound_streams: int | None = 256
    """Per connection, every protocol together."""
    max_outbound_streams: int | None = 256
    protocols: Mapping[str, ProtocolLimit] = field(default_factory=dict)
    """Per-protocol limits per connection, e.g. ping: at most 2 inbound streams per peer."""

    def __post_init__(self) -> None:
        for name in (
            "max_connections",
            "max_inbound",
            "max_outbound",
            "max_per_peer",
            "max_pending_inbound",
            "max_pending_outbound",
            "max_inbound_streams",
            "max_outbound_streams",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidConfigError(f"{name} must be at least 1 (or None for no limit)")


def check(limit: int | None, current: int, name: str, what: str) -> None:
    """Raise LimitExceeded (local) when ``current`` has reached ``limit``."""
    if limit is not None and current >= limit:
        raise LimitExceeded(f"{what}: local limit {name}={limit} reached", limit=name, local=True)
