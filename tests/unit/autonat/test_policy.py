"""The server's address rules and rate limits; the client's verdicts."""

from __future__ import annotations

import pytest

from p2pstack.host.reachability import Reachability
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat.autonat.policy import (
    RequestLimiter,
    candidate_ok,
    ip_versions,
    refusal,
    same_ip,
)
from p2pstack.protocols.nat.autonat.verdicts import Verdicts

A, B, C, D = (Identity.from_ed25519_seed(bytes([i]) * 32).peer_id for i in range(4))


def dialable(_: Multiaddr) -> bool:
    return True


@pytest.mark.parametrize(
    ("addr", "public_reason", "lab_reason"),
    [
        ("/ip4/8.8.8.8/tcp/1", None, None),
        ("/ip6/2606:4700::1/tcp/1", None, None),
        ("/ip4/127.0.0.1/tcp/1", "127.0.0.1 is not a public address", None),
        ("/ip4/192.168.1.2/tcp/1", "192.168.1.2 is not a public address", None),
        ("/ip4/100.64.0.1/tcp/1", "100.64.0.1 is not a public address", None),
        ("/ip6/::ffff:10.0.0.1/tcp/1", "10.0.0.1 is not a public address", None),
        ("/dns4/example.com/tcp/1", "not an IP address", "not an IP address"),
        ("/ip4/8.8.8.8/tcp/1/p2p-circuit", "a relayed address", "a relayed address"),
    ],
)
def test_refusal(addr: str, public_reason: str | None, lab_reason: str | None) -> None:
    ma = Multiaddr(addr)
    assert refusal(ma, allow_private=False, can_dial=dialable) == public_reason
    assert refusal(ma, allow_private=True, can_dial=dialable) == lab_reason
    assert candidate_ok(ma, allow_private=False) is (public_reason is None)


def test_refusal_without_a_transport_and_same_ip() -> None:
    addr = Multiaddr("/ip4/8.8.8.8/udp/1/quic-v1")
    assert refusal(addr, allow_private=False, can_dial=lambda _: False) == "no transport dials it"
    assert same_ip(addr, Multiaddr("/ip4/8.8.8.8/tcp/9"))
    assert not same_ip(addr, Multiaddr("/ip4/8.8.4.4/tcp/1"))
    assert not same_ip(Multiaddr("/dns4/x/tcp/1"), Multiaddr("/dns4/x/tcp/1"))


def test_rate_limiter_per_peer_total_in_flight_and_window() -> None:
    limiter = RequestLimiter(per_peer=2, total=3, window=60, max_in_flight=2)
    assert limiter.admit(A, 0) is None
    assert limiter.admit(A, 1) is None
    assert limiter.admit(B, 2) == "too many dial-backs in flight"
    limiter.done()
    limiter.done()
    assert limiter.admit(A, 3) == "per-peer request rate"
    assert limiter.admit(B, 4) is None
    limiter.done()
    assert limiter.admit(C, 5) == "global request rate"
    assert limiter.admit(A, 61) is None  # the first two fell out of the window
    assert limiter.in_flight == 1


def test_verdicts_need_agreement_and_expire() -> None:
    addr = Multiaddr("/ip4/8.8.8.8/tcp/1")
    verdicts = Verdicts(min_confirmations=2, max_servers=3, recheck_interval=100)
    assert verdicts.servers_to_ask(addr, [A, B, C, D], 0) == [A, B, C]
    verdicts.record(addr, A, True, 0)
    verdicts.record(addr, B, None, 0)  # refused: asked, no answer
    assert verdicts.verdict(addr, 1) is Reachability.UNKNOWN
    assert verdicts.servers_to_ask(addr, [A, B, C, D], 1) == [C]
    verdicts.record(addr, C, True, 1)
    assert verdicts.verdict(addr, 2) is Reachability.PUBLIC
    assert verdicts.servers_to_ask(addr, [A, B, C, D], 2) == []
    status = verdicts.status([addr], 2)
    assert status.overall is Reachability.PUBLIC
    assert verdicts.next_due(2) == 100
    assert verdicts.next_due(100) == 101  # C's answer
    assert verdicts.next_due(101) is None  # all stale: nothing due (no busy loop)
    assert verdicts.verdict(addr, 101) is Reachability.UNKNOWN  # stale
    assert verdicts.servers_to_ask(addr, [A, B, C, D], 101) == [A, B, C]


def test_verdicts_private_needs_every_address_failing() -> None:
    one, two = Multiaddr("/ip4/8.8.8.8/tcp/1"), Multiaddr("/ip4/8.8.8.8/tcp/2")
    verdicts = Verdicts(min_confirmations=1, max_servers=2, recheck_interval=100)
    verdicts.record(one, A, False, 0)
    assert verdicts.status([one, two], 0).overall is Reachability.UNKNOWN
    verdicts.record(two, A, False, 0)
    assert verdicts.status([one, two], 0).overall is Reachability.PRIVATE
    verdicts.record(two, B, True, 0)  # one each way: undecided
    assert verdicts.verdict(two, 0) is Reachability.UNKNOWN
    verdicts.forget([one])
    assert verdicts.status([one], 0).by_addr == ((one, Reachability.PRIVATE),)


def test_refusal_of_an_ip_version_we_have_no_address_of() -> None:
    ours = ip_versions([Multiaddr("/ip4/0.0.0.0/tcp/1"), Multiaddr("/dns4/x/tcp/1")])
    assert ours == frozenset({4})
    v6, v4 = Multiaddr("/ip6/2606:4700::1/tcp/1"), Multiaddr("/ip4/8.8.8.8/tcp/1")
    assert refusal(v6, allow_private=False, can_dial=dialable, versions=ours) == (
        "we have no IPv6 address"
    )
    assert refusal(v4, allow_private=False, can_dial=dialable, versions=ours) is None
    only6 = ip_versions([Multiaddr("/ip6/::/tcp/1")])
    assert refusal(v4, allow_private=False, can_dial=dialable, versions=only6) == (
        "we have no IPv4 address"
    )
