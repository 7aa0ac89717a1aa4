"""Resource limits of a node: connections, pending handshakes and streams.

Every refusal raises (or logs, for inbound work) :class:`~p2pstack.errors.LimitExceeded` naming
the limit, e.g. ``connections.inbound`` or ``streams.protocol./ipfs/ping/1.0.0.inbound``, and
whether it is ours (``local=True``) or the peer's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from p2pstack.errors import InvalidConfigError, LimitExceeded


@dataclass(frozen=True, kw_only=True, slots=True)
class ProtocolLimit:
    """Concurrent streams of one protocol on one connection, per direction.

    Attributes:
        inbound: streams of the protocol the peer opened.
        outbound: streams of the protocol we opened.
    """

    inbound: int
    outbound: int

    def __post_init__(self) -> None:
        if self.inbound < 0 or self.outbound < 0:
            raise InvalidConfigError("protocol stream limits must not be negative")


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionLimits:
    """Limits on connections and streams. ``None`` disables a limit.

    Attributes:
        max_connections: connections, both directions together (default 512).
        max_inbound: connections peers dialled to us (256).
        max_outbound: connections we dialled (256).
        max_per_peer: connections to one peer (2: a simultaneous connect is allowed while the
            duplicate is being retired).
        max_pending_inbound: inbound connections still in their security/muxer handshake (64).
        max_pending_outbound: dials still connecting or upgrading (64).
        max_inbound_streams: streams the peer opened, per connection, every protocol
            together (256).
        max_outbound_streams: streams we opened, per connection, every protocol together (256).
        protocols: :class:`ProtocolLimit` per protocol id, per connection, e.g.
            ``{"/ipfs/ping/1.0.0": ProtocolLimit(inbound=2, outbound=2)}``.
    """

    max_connections: int | None = 512
    max_inbound: int | None = 256
    max_outbound: int | None = 256
    max_per_peer: int | None = 2
    max_pending_inbound: int | None = 64
    max_pending_outbound: int | None = 64
    max_inbound_streams: int | None = 256
    max_outbound_streams: int | None = 256
    protocols: Mapping[str, ProtocolLimit] = field(default_factory=dict)

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


@dataclass(frozen=True, kw_only=True, slots=True)
class Watermarks:
    """Connection trimming (go-libp2p's connection manager): once more than ``high_water``
    connections are open, the least useful are closed until ``low_water`` remain.

    Never trimmed: connections younger than ``grace`` seconds, to protected peers
    (``Node.protect``) or allowlisted peers. The others go in this order: superseded
    duplicates, connections with no stream (relay reservations and other ``keep_alive``
    ones last), then those with fewer streams, least recently active first.
    ``high_water=None`` disables trimming.

    Attributes:
        low_water: connections left once trimming is done (default 160).
        high_water: trimming starts when more connections than this are open (192; None:
            never).
        grace: seconds during which a new connection is never trimmed (20).
    """

    low_water: int = 160
    high_water: int | None = 192
    grace: float = 20.0

    def __post_init__(self) -> None:
        if self.high_water is not None and not 0 <= self.low_water < self.high_water:
            raise InvalidConfigError("Watermarks need 0 <= low_water < high_water")
        if self.grace < 0:
            raise InvalidConfigError("Watermarks.grace must not be negative")


def check(limit: int | None, current: int, name: str, what: str) -> None:
    """Raise LimitExceeded (local) when ``current`` has reached ``limit``."""
    if limit is not None and current >= limit:
        raise LimitExceeded(f"{what}: local limit {name}={limit} reached", limit=name, local=True)
