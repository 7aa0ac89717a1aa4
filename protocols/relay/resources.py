"""The relay's bookkeeping (sans-IO): reservations, circuits, totals and rate limits.

Every method takes the current time (monotonic seconds) and returns a decision; nothing
here does I/O or reads a clock. Refusals are
:class:`~p2pstack.protocols.relay.status.Status` values,
chosen as go-libp2p does: reservation limits -> RESERVATION_REFUSED, circuit limits ->
RESOURCE_LIMIT_EXCEEDED, no reservation -> NO_RESERVATION.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from p2pstack.identity import PeerId
from p2pstack.protocols.relay.config import RateLimit, RelayConfig
from p2pstack.protocols.relay.status import Status


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class TokenBuckets:
    """One token bucket per key (peer id or IP), created full."""

    rate: RateLimit
    _buckets: dict[object, _Bucket] = field(default_factory=dict)

    def take(self, key: object, now: float) -> bool:
        """Take one token for ``key``; False when its bucket is empty."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.rate.burst), now)
        refill = (now - bucket.updated) * self.rate.per_minute / 60.0
        bucket.tokens = min(float(self.rate.burst), bucket.tokens + max(refill, 0.0))
        bucket.updated = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        if len(self._buckets) > 65536:  # forget full buckets so memory stays bounded
            self._buckets = {
                k: b for k, b in self._buckets.items() if b.tokens < self.rate.burst - 1
            }
        return True


@dataclass
class ReservationEntry:
    """One peer's reservation."""

    peer: PeerId
    ip: str | None
    expires_at: float
    """Monotonic expiry."""


@dataclass(frozen=True)
class CircuitEntry:
    """One open circuit."""

    id: int
    src: PeerId
    dst: PeerId
    src_ip: str | None


class RelayResources:
    """Reservations and circuits of one relay, checked against a :class:`RelayConfig`."""

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.reservations: dict[PeerId, ReservationEntry] = {}
        self.circuits: dict[int, CircuitEntry] = {}
        self._ids = itertools.count(1)
        self._peer_rate = TokenBuckets(config.peer_rate) if config.peer_rate else None
        self._ip_rate = TokenBuckets(config.ip_rate) if config.ip_rate else None

    # ------------------------------------------------------------------------ rate
    def allow_request(self, peer: PeerId, ip: str | None, now: float) -> bool:
        """Rate-limit one hop request from ``peer`` at ``ip``."""
        if self._peer_rate is not None and not self._peer_rate.take(peer, now):
            return False
        return not (
            ip is not None and self._ip_rate is not None and not self._ip_rate.take(ip, now)
        )

    # ---------------------------------------------------------------- reservations
    def expire(self, now: float) -> list[PeerId]:
        """Drop expired reservations; return whose they were."""
        gone = [p for p, r in self.reservations.items() if r.expires_at <= now]
        for peer in gone:
            del self.reservations[peer]
        return gone

    def reserve(self, peer: PeerId, ip: str | None, now: float) -> Status:
        """Create or renew ``peer``'s reservation until ``now + reservation_ttl``."""
        self.expire(now)
        allow = self.config.allow_peers
        if allow is not None and peer not in allow:
            return Status.PERMISSION_DENIED
        existing = self.reservations.get(peer)
        if existing is None:
            if len(self.reservations) >= self.config.max_reservations:
                return Status.RESERVATION_REFUSED
            if ip is not None:
                same_ip = sum(1 for r in self.reservations.values() if r.ip == ip)
                if same_ip >= self.config.max_reservations_per_ip:
                    return Status.RESERVATION_REFUSED
        self.reservations[peer] = ReservationEntry(peer, ip, now + self.config.reservation_ttl)
        return Status.OK

    def release(self, peer: PeerId) -> bool:
        """Forget ``peer``'s reservation (its connection closed). True if it had one."""
        return self.reservations.pop(peer, None) is not None

    def has_reservation(self, peer: PeerId, now: float) -> bool:
        """Whether ``peer`` holds an unexpired reservation."""
        entry = self.reservations.get(peer)
        if entry is None:
            return False
        if entry.expires_at <= now:
            del self.reservations[peer]
            return False
        return True

    # -------------------------------------------------------------------- circuits
    def open_circuit(
        self, src: PeerId, src_ip: str | None, dst: PeerId, now: float
    ) -> CircuitEntry | Status:
        """Admit a circuit from ``src`` to ``dst``, or say why not."""
        if not self.has_reservation(dst, now):
            return Status.NO_RESERVATION
        if len(self.circuits) >= self.config.max_circuits:
            return Status.RESOURCE_LIMIT_EXCEEDED
        per_peer: Counter[PeerId] = Counter()
        per_ip: Counter[str] = Counter()
        for c in self.circuits.values():
            per_peer[c.src] += 1
            per_peer[c.dst] += 1
            if c.src_ip is not None:
                per_ip[c.src_ip] += 1
        limit = self.config.max_circuits_per_peer
        if per_peer[src] >= limit or per_peer[dst] >= limit:
            return Status.RESOURCE_LIMIT_EXCEEDED
        if src_ip is not None and per_ip[src_ip] >= self.config.max_circuits_per_ip:
            return Status.RESOURCE_LIMIT_EXCEEDED
        entry = CircuitEntry(next(self._ids), src, dst, src_ip)
        self.circuits[entry.id] = entry
        return entry

    def close_circuit(self, circuit: CircuitEntry) -> None:
        """Release a circuit's slot (idempotent)."""
        self.circuits.pop(circuit.id, None)
