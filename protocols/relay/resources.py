"""The relay's bookkeeping (sans-IO): reservations, circuits, totals and rate limits.

Every method takes the current time (monotonic seconds) and returns a decision; nothing
here does I/O or reads a clock. A refusal is a :class:`Refusal`: the wire
:class:`~p2pstack.protocols.relay.status.Status`, chosen as go-libp2p does (reservation
limits -> RESERVATION_REFUSED, circuit limits -> RESOURCE_LIMIT_EXCEEDED, no reservation ->
NO_RESERVATION), and the name of the limit that refused (``reservations.max``...).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from p2pstack.identity import PeerId
from p2pstack.protocols.relay.config import RateLimit, RelayConfig
from p2pstack.protocols.relay.status import Status


@dataclass(frozen=True)
class Refusal:
    """Why the relay said no: the wire ``status`` and the ``limit`` that refused
    (``reservations.max``, ``reservations.per_ip``, ``circuits.max``, ``circuits.per_peer``,
    ``circuits.per_ip``, ``rate.peer``, ``rate.ip``, ``allow_peers``, ``NO_RESERVATION``);
    ``value`` is the configured limit when there is one."""

    status: Status
    limit: str
    value: float | None = None

    def __str__(self) -> str:
        if self.value is None:
            return self.limit
        return f"{self.limit}={self.value:g} reached"


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
    def allow_request(self, peer: PeerId, ip: str | None, now: float) -> Refusal | None:
        """Rate-limit one hop request from ``peer`` at ``ip``: None when allowed."""
        status = Status.RESOURCE_LIMIT_EXCEEDED
        if self._peer_rate is not None and not self._peer_rate.take(peer, now):
            return Refusal(status, "rate.peer", self._peer_rate.rate.per_minute)
        if ip is not None and self._ip_rate is not None and not self._ip_rate.take(ip, now):
            return Refusal(status, "rate.ip", self._ip_rate.rate.per_minute)
        return None

    # ---------------------------------------------------------------- reservations
    def expire(self, now: float) -> list[PeerId]:
        """Drop expired reservations; return whose they were."""
        gone = [p for p, r in self.reservations.items() if r.expires_at <= now]
        for peer in gone:
            del self.reservations[peer]
        return gone

    def reserve(self, peer: PeerId, ip: str | None, now: float) -> Refusal | None:
        """Create or renew ``peer``'s reservation until ``now + reservation_ttl``; None when
        granted."""
        self.expire(now)
        cfg = self.config
        if cfg.allow_peers is not None and peer not in cfg.allow_peers:
            return Refusal(Status.PERMISSION_DENIED, "allow_peers")
        existing = self.reservations.get(peer)
        if existing is None:
            refused = Status.RESERVATION_REFUSED
            if len(self.reservations) >= cfg.max_reservations:
                return Refusal(refused, "reservations.max", cfg.max_reservations)
            if ip is not None:
                same_ip = sum(1 for r in self.reservations.values() if r.ip == ip)
                if same_ip >= cfg.max_reservations_per_ip:
                    return Refusal(refused, "reservations.per_ip", cfg.max_reservations_per_ip)
        self.reservations[peer] = ReservationEntry(peer, ip, now + cfg.reservation_ttl)
        return None

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
    ) -> CircuitEntry | Refusal:
        """Admit a circuit from ``src`` to ``dst``, or say why not."""
        if not self.has_reservation(dst, now):
            return Refusal(Status.NO_RESERVATION, "NO_RESERVATION")
        cfg = self.config
        exceeded = Status.RESOURCE_LIMIT_EXCEEDED
        if len(self.circuits) >= cfg.max_circuits:
            return Refusal(exceeded, "circuits.max", cfg.max_circuits)
        per_peer: Counter[PeerId] = Counter()
        per_ip: Counter[str] = Counter()
        for c in self.circuits.values():
            per_peer[c.src] += 1
            per_peer[c.dst] += 1
            if c.src_ip is not None:
                per_ip[c.src_ip] += 1
        limit = cfg.max_circuits_per_peer
        if per_peer[src] >= limit or per_peer[dst] >= limit:
            return Refusal(exceeded, "circuits.per_peer", limit)
        if src_ip is not None and per_ip[src_ip] >= cfg.max_circuits_per_ip:
            return Refusal(exceeded, "circuits.per_ip", cfg.max_circuits_per_ip)
        entry = CircuitEntry(next(self._ids), src, dst, src_ip)
        self.circuits[entry.id] = entry
        return entry

    def close_circuit(self, circuit: CircuitEntry) -> None:
        """Release a circuit's slot (idempotent)."""
        self.circuits.pop(circuit.id, None)
