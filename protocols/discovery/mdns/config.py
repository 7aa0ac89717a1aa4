"""mDNS discovery settings (:class:`MdnsConfig`), its event and its counters."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from p2pstack.errors import InvalidConfigError
from p2pstack.host.events import Event
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns.records import (
    SERVICE_TYPE,
    validate_peer_name,
    validate_service_type,
)


@dataclass(frozen=True, kw_only=True)
class MdnsConfig:
    """Where and how mDNS runs, and the bounds on what it accepts (times in seconds)."""

    interfaces: tuple[str, ...] | None = None
    """IP addresses of the interfaces to use; None means every IPv4 interface of the host."""
    advertise: bool = True
    """Announce this node; False only browses (``p2pstack discover``)."""
    auto_dial: bool = False
    """Connect to every newly discovered peer."""
    service_type: str = SERVICE_TYPE
    peer_name: str | None = None
    """The instance label; a random 32-63 character name when None (never the peer id)."""
    max_peers: int = 256
    """Discovered peers remembered at once; more are ignored until some expire."""
    max_addrs_per_peer: int = 16
    max_txt_strings: int = 64
    """TXT strings read per record; a record with more is ignored."""
    max_ttl: float = 4500.0
    """Longest time an address is believed without a refresh (the record TTL, capped)."""
    announcements_per_second: float = 20.0
    announcement_burst: int = 50
    """Token bucket on announcements processed; the excess is dropped (and counted)."""
    queue_size: int = 128
    """Announcements waiting between zeroconf's thread and the node; more are dropped."""
    max_concurrent_dials: int = 8
    shutdown_timeout: float = 3.0
    """Goodbyes and browser shutdown; zeroconf's own close is bounded by zeroconf."""

    def __post_init__(self) -> None:
        if self.interfaces is not None:
            if not self.interfaces:
                raise InvalidConfigError("interfaces: give at least one address, or None")
            for ip in self.interfaces:
                try:
                    ipaddress.ip_address(ip)
                except ValueError:
                    raise InvalidConfigError(f"not an interface IP address: {ip!r}") from None
        validate_service_type(self.service_type)
        if self.peer_name is not None:
            validate_peer_name(self.peer_name)
        for name in (
            "max_peers",
            "max_addrs_per_peer",
            "max_txt_strings",
            "announcement_burst",
            "queue_size",
            "max_concurrent_dials",
        ):
            if getattr(self, name) < 1:
                raise InvalidConfigError(f"{name} must be at least 1")
        for name in ("max_ttl", "announcements_per_second", "shutdown_timeout"):
            if getattr(self, name) <= 0:
                raise InvalidConfigError(f"{name} must be positive")


@dataclass(frozen=True, slots=True)
class PeerDiscovered(Event):
    """mDNS found ``peer_id`` (new, or with new addresses); ``addrs`` are all its addresses."""

    peer_id: PeerId
    addrs: tuple[Multiaddr, ...]
    instance: str


@dataclass
class MdnsStats:
    """Counters of what the service received and what it refused."""

    announcements: int = 0
    rejected: int = 0
    """Malformed or hostile records (logged)."""
    rate_limited: int = 0
    queue_dropped: int = 0
    table_full: int = 0
