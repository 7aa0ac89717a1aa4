"""The discovered-peer table and the announcement rate limiter (time passed in)."""

from __future__ import annotations

import pytest

from p2pstack.errors import LimitExceeded
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns.records import Announcement
from p2pstack.protocols.discovery.mdns.table import PeerTable, RateLimiter

P = [Identity.generate().peer_id for _ in range(4)]
A = [Multiaddr(f"/ip4/10.0.0.{i}/tcp/4001") for i in range(1, 5)]


def test_new_peer_refresh_and_new_address() -> None:
    table = PeerTable(max_peers=4)
    change = table.apply("x._p2p._udp.local.", Announcement(P[0], (A[0],)), 10, now=0)
    assert change.is_new
    assert change.new_addrs == (A[0],)
    again = table.apply("X._P2P._udp.local.", Announcement(P[0], (A[0],)), 10, now=5)
    assert not again.is_new
    assert again.new_addrs == ()
    more = table.apply("x._p2p._udp.local.", Announcement(P[0], (A[0], A[1])), 10, now=6)
    assert more.new_addrs == (A[1],)
    assert table.peers(now=15) == {P[0]: (A[0], A[1])}
    assert table.peers(now=16) == {}


def test_replacing_announcement_drops_old_addresses() -> None:
    table = PeerTable(max_peers=4)
    table.apply("x", Announcement(P[0], (A[0], A[1])), 10, now=0)
    table.apply("x", Announcement(P[0], (A[2],)), 10, now=1)
    assert table.peers(now=2) == {P[0]: (A[2],)}


def test_bound_on_peers_refuses_new_until_expiry() -> None:
    table = PeerTable(max_peers=2)
    table.apply("a", Announcement(P[0], (A[0],)), 10, now=0)
    table.apply("b", Announcement(P[1], (A[1],)), 20, now=0)
    with pytest.raises(LimitExceeded):
        table.apply("c", Announcement(P[2], (A[2],)), 10, now=1)
    table.apply("a", Announcement(P[0], (A[0],)), 10, now=1)  # known ones still refresh
    assert len(table) == 2
    table.apply("c", Announcement(P[2], (A[2],)), 10, now=15)  # "a" expired at 11
    assert set(table.peers(now=15)) == {P[1], P[2]}


def test_withdraw_and_name_reuse() -> None:
    table = PeerTable(max_peers=2)
    table.apply("a", Announcement(P[0], (A[0],)), 10, now=0)
    change = table.apply("a", Announcement(P[1], (A[1],)), 10, now=1)
    assert change.is_new
    gone = table.withdraw("A")
    assert gone is not None
    assert gone.peer_id == P[1]
    assert table.withdraw("a") is None
    assert len(table) == 0


def test_rate_limiter() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.allow(0.0) for _ in range(5)] == [True, True, True, False, False]
    assert limiter.allow(0.5)  # one token back after 0.5 s
    assert not limiter.allow(0.5)
    assert [limiter.allow(100.0) for _ in range(4)] == [True, True, True, False]
    assert not limiter.allow(50.0)  # a clock going backwards earns nothing
