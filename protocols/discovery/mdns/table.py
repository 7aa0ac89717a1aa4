"""What mDNS discovery remembers, pure: peers by instance, with expiry, bounds and a rate limit.

Time is passed in (seconds on any monotonic clock), so the table and the limiter are tested
without a network or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p2pstack.errors import LimitExceeded
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns.records import Announcement


@dataclass(slots=True)
class DiscoveredPeer:
    """A peer learned from mDNS: its current addresses and when they expire."""

    peer_id: PeerId
    addrs: tuple[Multiaddr, ...]
    expires: float
    instance: str


@dataclass(frozen=True, slots=True)
class Change:
    """The effect of one announcement: ``new_addrs`` is empty for a plain refresh."""

    peer: DiscoveredPeer
    is_new: bool
    new_addrs: tuple[Multiaddr, ...]


@dataclass
class PeerTable:
    """Discovered peers, at most ``max_peers``, keyed by mDNS instance name.

    An instance is one peer; its latest announcement replaces its addresses (the TXT
    records are the whole current set). A full table refuses new peers until entries
    expire or are withdrawn, so a flood cannot push out peers already known.
    """

    max_peers: int
    _by_instance: dict[str, DiscoveredPeer] = field(default_factory=dict)

    def apply(self, instance: str, ann: Announcement, ttl: float, now: float) -> Change:
        """Record ``ann`` from ``instance`` for ``ttl`` seconds.

        Raises:
            LimitExceeded: the table is full and ``instance`` is not in it.
        """
        key = instance.lower()
        self.expire(now)
        old = self._by_instance.get(key)
        if old is not None and old.peer_id != ann.peer_id:
            old = None  # the name was reused by another peer
        full = len(self._by_instance) >= self.max_peers
        if old is None and key not in self._by_instance and full:
            raise LimitExceeded(
                f"{self.max_peers} mDNS peers remembered; ignoring {ann.peer_id}",
                limit="mdns.max_peers",
            )
        known = self.addrs_of(ann.peer_id)
        entry = DiscoveredPeer(ann.peer_id, ann.addrs, now + ttl, instance)
        self._by_instance[key] = entry
        new_addrs = tuple(a for a in ann.addrs if a not in known)
        return Change(entry, old is None and not known, new_addrs)

    def withdraw(self, instance: str) -> DiscoveredPeer | None:
        """Forget ``instance`` (a goodbye); returns what it had announced."""
        return self._by_instance.pop(instance.lower(), None)

    def expire(self, now: float) -> list[DiscoveredPeer]:
        """Drop and return the entries whose time has come."""
        gone = [key for key, entry in self._by_instance.items() if entry.expires <= now]
        return [self._by_instance.pop(key) for key in gone]

    def addrs_of(self, peer: PeerId) -> set[Multiaddr]:
        """Every address any live instance announced for ``peer``."""
        return {a for e in self._by_instance.values() if e.peer_id == peer for a in e.addrs}

    def peers(self, now: float) -> dict[PeerId, tuple[Multiaddr, ...]]:
        """Unexpired peers and their addresses (merged across instances, in order)."""
        out: dict[PeerId, dict[Multiaddr, None]] = {}
        for entry in self._by_instance.values():
            if entry.expires > now:
                out.setdefault(entry.peer_id, {}).update(dict.fromkeys(entry.addrs))
        return {peer: tuple(addrs) for peer, addrs in out.items()}

    def __len__(self) -> int:
        return len(self._by_instance)


@dataclass
class RateLimiter:
    """A token bucket: ``rate`` events per second on average, bursts of up to ``burst``."""

    rate: float
    burst: int
    _tokens: float = field(init=False)
    _last: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)

    def allow(self, now: float) -> bool:
        """Take a token if one is available at ``now``."""
        if self._last is not None and now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        if self._last is None or now > self._last:
            self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
