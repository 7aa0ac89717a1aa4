"""Fair admission: per-IP and per-subnet pending limits, eviction, allowlist."""

from __future__ import annotations

import pytest

from p2pstack.errors import InvalidConfigError, LimitExceeded
from p2pstack.host.admission import Admission, AdmissionLimits
from p2pstack.multiaddr import Multiaddr


def addr(ip: str) -> Multiaddr:
    return Multiaddr(f"/ip4/{ip}/tcp/1234")


def test_pending_per_ip_and_subnet() -> None:
    adm = Admission(AdmissionLimits(pending_per_ip=2, pending_per_subnet=3), max_pending=None)
    adm.admit(addr("10.0.0.1"), 0)
    adm.admit(addr("10.0.0.1"), 0)
    with pytest.raises(LimitExceeded) as info:
        adm.admit(addr("10.0.0.1"), 0)
    assert info.value.limit == "pending.per_ip"
    adm.admit(addr("10.0.0.2"), 0)
    with pytest.raises(LimitExceeded) as info:
        adm.admit(addr("10.0.0.3"), 0)
    assert info.value.limit == "pending.per_subnet"
    adm.admit(addr("10.0.1.3"), 0)  # another /24


def test_established_connections_stop_counting_as_pending() -> None:
    adm = Admission(AdmissionLimits(pending_per_ip=1, conns_per_ip=2), max_pending=None)
    first = adm.admit(addr("10.0.0.1"), 0)
    first.established()
    second = adm.admit(addr("10.0.0.1"), 0)
    second.established()
    with pytest.raises(LimitExceeded) as info:
        adm.admit(addr("10.0.0.1"), 0)
    assert info.value.limit == "connections.per_ip"
    first.done()
    first.done()
    adm.admit(addr("10.0.0.1"), 0)


def test_a_full_budget_evicts_the_busiest_address_for_a_newcomer() -> None:
    limits = AdmissionLimits(pending_per_ip=None, pending_per_subnet=None, conns_per_ip=None)
    adm = Admission(limits, max_pending=4)
    flood = [adm.admit(addr("10.0.0.66"), t) for t in range(4)]
    honest = adm.admit(addr("192.0.2.1"), 5)
    assert flood[0].evicted
    assert flood[0].cancel_scope.cancel_called
    assert not any(t.evicted for t in flood[1:])
    assert adm.pending == 4
    assert adm.evictions == 1
    with pytest.raises(LimitExceeded) as info:  # the attacker cannot evict others
        adm.admit(addr("10.0.0.66"), 6)
    assert info.value.limit == "pending.inbound"
    assert not honest.evicted
    flood[0].done()  # the evicted task ends later: nothing counted twice
    assert adm.pending == 4


def test_allowlisted_networks_always_get_a_slot() -> None:
    limits = AdmissionLimits(pending_per_ip=1, allow=("192.0.2.0/24",))
    adm = Admission(limits, max_pending=1)
    adm.admit(addr("10.0.0.1"), 0)
    tickets = [adm.admit(addr("192.0.2.7"), 0) for _ in range(5)]
    assert all(t.allowlisted for t in tickets)
    for ticket in tickets:
        ticket.done()


def test_non_ip_addresses_are_only_globally_limited() -> None:
    adm = Admission(AdmissionLimits(pending_per_ip=1), max_pending=2)
    adm.admit(Multiaddr("/memory/5"), 0)
    adm.admit(Multiaddr("/memory/6"), 0)
    with pytest.raises(LimitExceeded):
        adm.admit(Multiaddr("/memory/7"), 0)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(InvalidConfigError):
        AdmissionLimits(allow=("not a network",))
    with pytest.raises(InvalidConfigError):
        AdmissionLimits(pending_per_ip=0)
