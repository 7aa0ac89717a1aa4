"""The relay's bookkeeping (sans-IO): reservations, circuits, totals and rate limits.

Every method takes the current time (monotonic seconds) and returns a decision; nothing
here does I/O or reads a clock. A refusal is a :class:`Refusal`: the wire
:class:`~p2pstack.protocols.relay.status.Status`, chosen as go-libp2p does (reservation
limits -> RESERVATION_REFUSED, circuit limits -> RESOURCE_LIMIT_EXCEEDED, no reservation ->
NO_RESERVATION), and the name of the limit that refused (``reservations.max``...).

Every decision costs O(log n) in the reservations and O(1) in the circuits held: expiry is a
heap of deadlines (entries of renewed or released reservations are left in it and skipped
when they surface, and the heap is rebuilt when they outnumber the live ones), and the
per-IP and per-peer counts are counters kept in step with every change, never recounted.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Final, TypeVar

from p2pstack.identity import PeerId
from p2pstack.protocols.relay.config import RateLimit, RelayConfig
from p2pstack.protocols.relay.status import Status

_K = TypeVar("_K")
_HEAP_SLACK: Final = 64
"""Stale expiry entries tolerated beyond the live ones before the heap is rebuilt."""


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
    """Reservations and circuits of one relay, checked against a :class:`RelayConfig`.

    ``reservations`` and ``circuits`` are for reading; change them only through the methods,
    which keep the expiry heap and the counters in step.
    """

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.reservations: dict[PeerId, ReservationEntry] = {}
        self.circuits: dict[int, CircuitEntry] = {}
        self._ids = itertools.count(1)
        self._peer_rate = TokenBuckets(config.peer_rate) if config.peer_rate else None
        self._ip_rate = TokenBuckets(config.ip_rate) if config.ip_rate else None
        self._expiry: list[tuple[float, int, ReservationEntry]] = []
        """Heap of (expires_at, sequence, entry); an entry no longer in ``reservations``
        (renewed, released) is stale and skipped."""
        self._sequence = itertools.count()
        self._reservations_per_ip: Counter[str] = Counter()
        self._circuits_per_peer: Counter[PeerId] = Counter()
        self._circuits_per_ip: Counter[str] = Counter()

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
    def reservations_from(self, ip: str) -> int:
        """How many reservations were made (or last renewed) from ``ip``."""
        return self._reservations_per_ip[ip]

    @property
    def expiry_entries(self) -> int:
        """Entries in the expiry heap, stale ones included (at most twice the reservations
        held, plus a small slack)."""
        return len(self._expiry)

    def _add(self, entry: ReservationEntry) -> None:
        self.reservations[entry.peer] = entry
        if entry.ip is not None:
            self._reservations_per_ip[entry.ip] += 1
        heapq.heappush(self._expiry, (entry.expires_at, next(self._sequence), entry))
        if len(self._expiry) > 2 * len(self.reservations) + _HEAP_SLACK:
            self._rebuild_heap()

    def _remove(self, peer: PeerId) -> ReservationEntry | None:
        """Forget ``peer``'s reservation (its heap entry goes stale); the entry, or None."""
        entry = self.reservations.pop(peer, None)
        if entry is not None and entry.ip is not None:
            _decrement(self._reservations_per_ip, entry.ip)
        return entry

    def _rebuild_heap(self) -> None:
        """Drop the stale entries: O(n), at most once per n changes."""
        sequence = self._sequence
        self._expiry = [(e.expires_at, next(sequence), e) for e in self.reservations.values()]
        heapq.heapify(self._expiry)

    def expire(self, now: float) -> list[PeerId]:
        """Drop expired reservations; return whose they were."""
        heap = self._expiry
        gone: list[PeerId] = []
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)[2]
            if self.reservations.get(entry.peer) is entry:
                self._remove(entry.peer)
                gone.append(entry.peer)
        return gone

    def reserve(self, peer: PeerId, ip: str | None, now: float) -> Refusal | None:
        """Create or renew ``peer``'s reservation until ``now + reservation_ttl``; None when
        granted. A renewal is never refused for the counts (it may come from a new IP,
        which then holds it)."""
        self.expire(now)
        cfg = self.config
        if cfg.allow_peers is not None and peer not in cfg.allow_peers:
            return Refusal(Status.PERMISSION_DENIED, "allow_peers")
        if peer not in self.reservations:
            refused = Status.RESERVATION_REFUSED
            if len(self.reservations) >= cfg.max_reservations:
                return Refusal(refused, "reservations.max", cfg.max_reservations)
            if ip is not None and self._reservations_per_ip[ip] >= cfg.max_reservations_per_ip:
                return Refusal(refused, "reservations.per_ip", cfg.max_reservations_per_ip)
        self._remove(peer)
        self._add(ReservationEntry(peer, ip, now + cfg.reservation_ttl))
        return None

    def release(self, peer: PeerId) -> bool:
        """Forget ``peer``'s reservation (its connection closed). True if it had one."""
        return self._remove(peer) is not None

    def has_reservation(self, peer: PeerId, now: float) -> bool:
        """Whether ``peer`` holds an unexpired reservation."""
        entry = self.reservations.get(peer)
        if entry is None:
            return False
        if entry.expires_at <= now:
            self._remove(peer)
            return False
        return True

    # -------------------------------------------------------------------- circuits
    def circuits_of(self, peer: PeerId) -> int:
        """Open circuits from or to ``peer``."""
        return self._circuits_per_peer[peer]

    def circuits_from(self, ip: str) -> int:
        """Open circuits whose source connection came from ``ip``."""
        return self._circuits_per_ip[ip]

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
        per_peer = self._circuits_per_peer
        limit = cfg.max_circuits_per_peer
        if per_peer[src] >= limit or per_peer[dst] >= limit:
            return Refusal(exceeded, "circuits.per_peer", limit)
        per_ip = self._circuits_per_ip
        if src_ip is not None and per_ip[src_ip] >= cfg.max_circuits_per_ip:
            return Refusal(exceeded, "circuits.per_ip", cfg.max_circuits_per_ip)
        entry = CircuitEntry(next(self._ids), src, dst, src_ip)
        self.circuits[entry.id] = entry
        per_peer[src] += 1
        per_peer[dst] += 1
        if src_ip is not None:
            per_ip[src_ip] += 1
        return entry

    def close_circuit(self, circuit: CircuitEntry) -> None:
        """Release a circuit's slot (idempotent)."""
        if self.circuits.pop(circuit.id, None) is None:
            return
        _decrement(self._circuits_per_peer, circuit.src)
        _decrement(self._circuits_per_peer, circuit.dst)
        if circuit.src_ip is not None:
            _decrement(self._circuits_per_ip, circuit.src_ip)


def _decrement(counter: Counter[_K], key: _K) -> None:
    """Count one less for ``key``, forgetting it at zero (counters stay as small as the
    live set)."""
    left = counter[key] - 1
    if left > 0:
        counter[key] = left
    else:
        del counter[key]
