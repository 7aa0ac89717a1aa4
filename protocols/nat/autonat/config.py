"""AutoNAT options (times in seconds)."""

from __future__ import annotations

from dataclasses import dataclass

from p2pstack.errors import InvalidConfigError


@dataclass(frozen=True, kw_only=True, slots=True)
class AutoNATConfig:
    """What the AutoNAT service does: measure our reachability (``client``), dial others
    back (``server``), or both. Defaults follow go-libp2p's where it has one."""

    client: bool = True
    """Ask servers to dial our candidate addresses and publish the node's reachability."""
    server: bool = False
    """Serve ``/libp2p/autonat/1.0.0`` and ``/libp2p/autonat/2/dial-request``."""
    allow_private_addrs: bool = False
    """Dial (server) and test (client) private and loopback addresses: tests and labs only.
    A public server must refuse them (a requester could aim us at its LAN neighbours)."""
    min_confirmations: int = 3
    """Servers that must agree before an address is called public or private."""
    max_servers: int = 5
    """Servers asked about each address per round."""
    recheck_interval: float = 900.0
    """How long a verdict stands before the address is tested again."""
    retry_interval: float = 60.0
    """How soon a round that left addresses undecided is repeated."""
    request_timeout: float = 30.0
    """Client: how long one request to a server may take (dial-back included)."""
    observed_addrs: bool = True
    """Client: test the addresses identify's observers confirmed, besides listen and
    announced (UPnP) addresses."""
    announce_public: bool = True
    """Client: announce observed addresses confirmed public (merged with the others)."""
    max_dial_data: int = 100_000
    """Client: the most bytes we send when a v2 server asks for the amplification cost."""
    dial_timeout: float = 15.0
    """Server: the deadline of one dial-back (connection and, in v2, the nonce exchange)."""
    dial_data_bytes: int = 50_000
    """Server: the amplification cost asked before dialling an IP other than the
    requester's (v2; the spec says 30 to 100 kB)."""
    max_requests_per_peer: int = 12
    """Server: requests served per peer within ``rate_window``."""
    max_requests: int = 60
    """Server: requests served in total within ``rate_window``."""
    rate_window: float = 60.0
    max_concurrent_dials: int = 8
    """Server: dial-backs in flight at once; more requests are rejected."""

    def __post_init__(self) -> None:
        positive = (
            "min_confirmations",
            "max_servers",
            "recheck_interval",
            "retry_interval",
            "request_timeout",
            "dial_timeout",
            "max_requests_per_peer",
            "max_requests",
            "rate_window",
            "max_concurrent_dials",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise InvalidConfigError(f"AutoNATConfig.{name} must be positive")
        if not 30_000 <= self.dial_data_bytes <= 100_000:
            raise InvalidConfigError("AutoNATConfig.dial_data_bytes must be 30000 to 100000")
        if self.max_dial_data < 0:
            raise InvalidConfigError("AutoNATConfig.max_dial_data must not be negative")
        if self.max_servers < self.min_confirmations:
            raise InvalidConfigError("AutoNATConfig.max_servers must be >= min_confirmations")
        if not (self.client or self.server):
            raise InvalidConfigError("AutoNATConfig: enable client, server or both")
