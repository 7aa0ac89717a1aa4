"""Identify's observed-address manager: confirmation by distinct observer groups."""

from __future__ import annotations

from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify.observed import (
    MAX_GROUPS,
    MAX_TRACKED,
    ObservedAddrs,
    observer_group,
    thin_waist,
)

PEERS = [Identity.from_ed25519_seed(bytes([i]) * 32).peer_id for i in range(6)]
LISTEN = [Multiaddr("/ip4/10.0.0.2/tcp/4001")]
OBSERVED = Multiaddr("/ip4/203.0.113.7/tcp/4001")


def test_groups_and_thin_waist() -> None:
    assert observer_group(Multiaddr("/ip4/1.2.3.4/tcp/5")) == "1.2.3.4"
    assert observer_group(Multiaddr("/ip6/2001:db8:1:2ff::1/tcp/5")) == "2001:db8:1:200::/56"
    assert observer_group(Multiaddr("/dns4/x/tcp/5")) is None
    # inbound on a listen address: the observed address itself
    assert thin_waist(OBSERVED, LISTEN[0], LISTEN) == OBSERVED
    # outbound from an ephemeral port: the observed IP with our listen port
    ephemeral = Multiaddr("/ip4/203.0.113.7/tcp/51234")
    local = Multiaddr("/ip4/10.0.0.2/tcp/51234")
    assert thin_waist(ephemeral, local, LISTEN) == OBSERVED
    assert thin_waist(Multiaddr("/ip6/2001:db8::1/tcp/1"), local, LISTEN) is None


def test_confirmed_by_distinct_groups_only() -> None:
    observed = ObservedAddrs(threshold=3, ttl=100)

    def report(peer: int, observer_ip: str, now: float) -> None:
        observed.record(
            observed=OBSERVED,
            observer=PEERS[peer],
            observer_addr=Multiaddr(f"/ip4/{observer_ip}/tcp/1"),
            local_addr=LISTEN[0],
            listen_addrs=LISTEN,
            now=now,
        )

    report(0, "1.1.1.1", 0)
    report(1, "1.1.1.1", 0)  # same group as peer 0
    report(2, "2.2.2.2", 0)
    assert observed.confirmed(1) == []
    report(2, "3.3.3.3", 1)  # the same peer again from elsewhere counts once
    assert observed.count(OBSERVED, 1) == 2
    report(3, "4.4.4.4", 2)
    assert observed.confirmed(3) == [OBSERVED]
    assert observed.confirmed(101) == []  # the first reports expired


def test_memory_is_bounded() -> None:
    observed = ObservedAddrs(threshold=2, ttl=100)
    for i in range(MAX_GROUPS + 10):
        observed.record(
            observed=OBSERVED,
            observer=PEERS[i % len(PEERS)] if i < len(PEERS) else PEERS[0],
            observer_addr=Multiaddr(f"/ip4/1.2.{i // 250}.{i % 250}/tcp/1"),
            local_addr=LISTEN[0],
            listen_addrs=LISTEN,
            now=float(i),
        )
    assert observed.count(OBSERVED, 100.0) <= MAX_GROUPS
    for port in range(MAX_TRACKED + 10):
        observed.record(
            observed=Multiaddr(f"/ip4/203.0.113.7/tcp/{port + 1}"),
            observer=PEERS[1],
            observer_addr=Multiaddr("/ip4/9.9.9.9/tcp/1"),
            local_addr=Multiaddr(f"/ip4/10.0.0.2/tcp/{port + 1}"),
            listen_addrs=[Multiaddr(f"/ip4/10.0.0.2/tcp/{port + 1}")],
            now=200.0 + port,
        )
    last = Multiaddr(f"/ip4/203.0.113.7/tcp/{MAX_TRACKED + 10}")
    assert observed.count(last, 300.0) == 1
    assert observed.count(Multiaddr("/ip4/203.0.113.7/tcp/1"), 300.0) == 0  # the oldest went
