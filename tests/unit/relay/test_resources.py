"""RelayResources: the expiry heap and the per-IP and per-peer counters stay in step."""

from __future__ import annotations

import random
from collections import Counter

from p2pstack.identity import Identity, PeerId
from p2pstack.protocols.relay.config import RelayConfig
from p2pstack.protocols.relay.resources import CircuitEntry, Refusal, RelayResources
from p2pstack.protocols.relay.status import Status

PEERS = [Identity.generate().peer_id for _ in range(12)]
TTL = 100.0


def resources(*, max_reservations: int = 1000, max_reservations_per_ip: int = 2) -> RelayResources:
    return RelayResources(
        RelayConfig(
            reservation_ttl=TTL,
            max_reservations=max_reservations,
            max_reservations_per_ip=max_reservations_per_ip,
            max_circuits=1000,
            max_circuits_per_peer=2,
            max_circuits_per_ip=3,
            peer_rate=None,
            ip_rate=None,
        )
    )


def refused(result: object, limit: str) -> bool:
    return isinstance(result, Refusal) and result.limit == limit


def test_per_ip_limit_counts_live_reservations_only() -> None:
    res = resources()
    a, b, c = PEERS[:3]
    assert res.reserve(a, "10.0.0.1", 0.0) is None
    assert res.reserve(b, "10.0.0.1", 1.0) is None
    assert res.reservations_from("10.0.0.1") == 2
    refusal = res.reserve(c, "10.0.0.1", 2.0)
    assert refused(refusal, "reservations.per_ip")
    assert isinstance(refusal, Refusal)
    assert refusal.status == Status.RESERVATION_REFUSED
    assert res.release(a)
    assert not res.release(a)
    assert res.reservations_from("10.0.0.1") == 1
    assert res.reserve(c, "10.0.0.1", 3.0) is None
    assert res.reservations_from("10.0.0.1") == 2


def test_renewal_from_a_new_ip_moves_the_count() -> None:
    res = resources()
    a, b, c = PEERS[:3]
    assert res.reserve(a, "10.0.0.1", 0.0) is None
    assert res.reserve(b, "10.0.0.1", 0.0) is None
    # A renewal is not refused for the counts, even towards a full IP.
    assert res.reserve(c, "10.0.0.2", 0.0) is None
    assert res.reserve(c, "10.0.0.2", 0.0) is None
    assert res.reserve(a, "10.0.0.2", 5.0) is None
    assert res.reservations_from("10.0.0.1") == 1
    assert res.reservations_from("10.0.0.2") == 2
    assert res.reservations[a].ip == "10.0.0.2"
    assert refused(res.reserve(PEERS[3], "10.0.0.2", 6.0), "reservations.per_ip")
    assert res.reserve(PEERS[3], "10.0.0.1", 6.0) is None


def test_expiry_frees_the_count_and_skips_renewed_entries() -> None:
    res = resources()
    a, b = PEERS[:2]
    assert res.reserve(a, "10.0.0.1", 0.0) is None
    assert res.reserve(b, "10.0.0.1", 10.0) is None
    assert res.reserve(a, "10.0.0.1", 50.0) is None  # renewed: now expires at 150
    assert res.expire(TTL) == []  # a's first entry surfaces stale
    assert res.expire(TTL + 10.0) == [b]
    assert res.reservations_from("10.0.0.1") == 1
    assert res.has_reservation(a, 149.0)
    assert not res.has_reservation(a, 150.0)  # expired on lookup: the count follows
    assert res.reservations_from("10.0.0.1") == 0
    assert res.reservations == {}
    assert res.expire(1000.0) == []
    assert res.expiry_entries == 0


def test_reserve_expires_first_so_expired_ones_do_not_count() -> None:
    res = resources(max_reservations=2)
    a, b, c = PEERS[:3]
    assert res.reserve(a, "10.0.0.1", 0.0) is None
    assert res.reserve(b, "10.0.0.2", 0.0) is None
    assert refused(res.reserve(c, "10.0.0.3", 99.0), "reservations.max")
    assert refused(res.reserve(c, "10.0.0.1", 99.0), "reservations.max")
    assert res.reserve(c, "10.0.0.1", TTL) is None
    assert set(res.reservations) == {c}
    assert res.reservations_from("10.0.0.1") == 1
    assert res.reservations_from("10.0.0.2") == 0


def test_renewals_keep_the_heap_bounded() -> None:
    res = resources()
    for step in range(5000):
        assert res.reserve(PEERS[step % 3], None, float(step)) is None
    assert len(res.reservations) == 3
    assert res.expiry_entries <= 2 * 3 + 64


def test_counters_match_a_recount_under_random_operations() -> None:
    rng = random.Random(1617)
    res = resources(max_reservations=8, max_reservations_per_ip=3)
    ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3", None]
    circuits: list[CircuitEntry] = []
    now = 0.0
    for _ in range(4000):
        now += rng.random() * 7
        peer = rng.choice(PEERS)
        op = rng.random()
        if op < 0.45:
            ip = rng.choice(ips)
            model = {p: r for p, r in res.reservations.items() if r.expires_at > now}
            same_ip = sum(1 for r in model.values() if r.ip == ip)
            result = res.reserve(peer, ip, now)
            if peer in model:  # a renewal: always granted
                assert result is None
            elif len(model) >= 8:
                assert refused(result, "reservations.max")
            elif ip is not None and same_ip >= 3:
                assert refused(result, "reservations.per_ip")
            else:
                assert result is None
            if result is None:
                assert res.reservations[peer].expires_at == now + TTL
        elif op < 0.55:
            res.release(peer)
        elif op < 0.65:
            res.has_reservation(peer, now)
        elif op < 0.85:
            opened = res.open_circuit(peer, rng.choice(ips), rng.choice(PEERS), now)
            if isinstance(opened, CircuitEntry):
                circuits.append(opened)
        elif circuits:
            res.close_circuit(circuits.pop(rng.randrange(len(circuits))))
            if circuits and rng.random() < 0.2:
                res.close_circuit(circuits[0])  # closing twice changes nothing
                circuits.pop(0)
        live = res.reservations.values()
        by_ip = Counter(r.ip for r in live if r.ip is not None)
        assert all(res.reservations_from(ip) == by_ip[ip] for ip in ips if ip is not None)
        assert len(res.reservations) <= 8
        per_peer: Counter[PeerId] = Counter()
        per_ip: Counter[str] = Counter()
        for c in res.circuits.values():
            per_peer[c.src] += 1
            per_peer[c.dst] += 1
            if c.src_ip is not None:
                per_ip[c.src_ip] += 1
        assert all(res.circuits_of(p) == per_peer[p] for p in PEERS)
        assert all(res.circuits_from(ip) == per_ip[ip] for ip in ips if ip is not None)
        assert all(n <= 3 for n in per_ip.values())
        assert res.expiry_entries <= 2 * len(res.reservations) + 64
        expired = [p for p, r in res.reservations.items() if r.expires_at <= now]
        assert sorted(res.expire(now), key=str) == sorted(expired, key=str)


def test_circuit_counters_refuse_and_release() -> None:
    res = resources()
    a, b, c, d = PEERS[:4]
    for peer in (b, c, d):
        assert res.reserve(peer, None, 0.0) is None
    first = res.open_circuit(a, "10.0.0.9", b, 1.0)
    second = res.open_circuit(a, "10.0.0.9", c, 1.0)
    assert isinstance(first, CircuitEntry)
    assert isinstance(second, CircuitEntry)
    assert res.circuits_of(a) == 2
    assert res.circuits_of(b) == 1
    assert refused(res.open_circuit(a, "10.0.0.9", d, 1.0), "circuits.per_peer")
    res.close_circuit(first)
    res.close_circuit(first)
    assert res.circuits_of(a) == 1
    assert res.circuits_of(b) == 0
    assert res.circuits_from("10.0.0.9") == 1
    third = res.open_circuit(d, "10.0.0.9", c, 1.0)
    fourth = res.open_circuit(b, "10.0.0.9", d, 1.0)
    assert isinstance(third, CircuitEntry)
    assert isinstance(fourth, CircuitEntry)
    assert refused(res.open_circuit(PEERS[5], "10.0.0.9", b, 1.0), "circuits.per_ip")
    assert refused(res.open_circuit(a, None, PEERS[6], 1.0), "NO_RESERVATION")
