"""DCUtR between in-process nodes on loopback: a relay, A listening through it, B dialling A.

Loopback has no NAT, so B's punch SYN reaches A's listener instead of crossing A's SYN: the
accepted connection must be upgraded with the DCUtR role (A initiator) for the handshake to
work; this is the path the two-NAT scenario cannot show. The NAT case is
tests/scenario/test_hole_punch.py.
"""

from __future__ import annotations

import trio

from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat.dcutr import (
    DCUtRConfig,
    HolePunchFailed,
    HolePunchSucceeded,
    dcutr,
)
from p2pstack.protocols.perf import perf_peer
from p2pstack.role import Role
from tests.helpers import wait_until
from tests.helpers.dcutr_nodes import bed, first_event

LOCAL = DCUtRConfig(allow_private_addrs=True, dial_timeout=3.0, direct_first=False)
"""Loopback counts as public; no direct dial first (B's loopback address would connect)."""


async def test_hole_punch_on_loopback_upgrades_the_relayed_connection() -> None:
    a_service, b_service = dcutr(LOCAL), dcutr(LOCAL)
    async with bed(a_service, b_service) as net:
        with net.a.events.subscribe() as a_events, net.b.events.subscribe() as b_events:
            relayed = await net.b.dial(net.circuit_to_a)
            assert relayed.limited
            with trio.fail_after(10):
                a_done = await first_event(a_events, (HolePunchSucceeded, HolePunchFailed))
                b_done = await first_event(b_events, (HolePunchSucceeded, HolePunchFailed))
        assert isinstance(a_done, HolePunchSucceeded), a_done
        assert isinstance(b_done, HolePunchSucceeded), b_done
        assert a_done.initiator
        assert not b_done.initiator
        assert a_done.attempts == 1
        assert a_done.rtt > 0
        direct_on_b = net.b.connection_to(net.a.peer_id)
        direct_on_a = net.a.connection_to(net.b.peer_id)
        assert direct_on_b is not None
        assert not direct_on_b.limited
        assert direct_on_a is not None
        assert not direct_on_a.limited
        # The DCUtR initiator (A) is the Noise initiator / multistream dialer on the punched
        # connection although B's connect reached A's listener.
        assert direct_on_a.role is Role.INITIATOR
        assert direct_on_b.role is Role.RESPONDER
        assert relayed.superseded
        before = net.relay_service.metrics.bytes_relayed
        result = await perf_peer(net.b, net.a.peer_id, upload=1 << 20, download=1 << 20)
        assert result.upload_bytes == result.download_bytes == 1 << 20
        assert net.relay_service.metrics.bytes_relayed - before < 4096  # not through the relay
        assert a_service.stats["succeeded"] == 1
        assert b_service.stats["answered_succeeded"] == 1


async def test_peer_without_dcutr_fails_with_a_reason_and_stays_relayed() -> None:
    async with bed(dcutr(LOCAL), None) as net:
        with net.a.events.subscribe() as events:
            relayed = await net.b.dial(net.circuit_to_a)
            with trio.fail_after(10):
                failed = await first_event(events, (HolePunchSucceeded, HolePunchFailed))
        assert isinstance(failed, HolePunchFailed)
        assert "not supported" in failed.reason
        assert net.b.connection_to(net.a.peer_id) is relayed
        assert not relayed.is_closed


async def test_no_public_address_fails_without_opening_a_stream() -> None:
    strict = dcutr(DCUtRConfig())  # loopback addresses are not public
    async with bed(strict, dcutr(LOCAL)) as net:
        with net.a.events.subscribe() as events:
            await net.b.dial(net.circuit_to_a)
            with trio.fail_after(10):
                failed = await first_event(events, (HolePunchSucceeded, HolePunchFailed))
        assert isinstance(failed, HolePunchFailed)
        assert "no public address" in failed.reason
        assert failed.attempts == 0
        assert strict.stats == {**strict.stats, "started": 1, "failed": 1}


async def test_unreachable_addresses_fail_after_three_attempts() -> None:
    # A sends an address nobody listens on; B's CONNECT is honest but A's dial goes nowhere
    # and B's dial to the dead address too: three rounds, then a reason.
    dead = DCUtRConfig(
        allow_private_addrs=True,
        dial_timeout=0.5,
        addrs=lambda _n: [_dead_addr()],
        direct_first=False,
    )
    async with bed(dcutr(dead), dcutr(dead)) as net:
        with net.a.events.subscribe() as events:
            relayed = await net.b.dial(net.circuit_to_a)
            with trio.fail_after(15):
                failed = await first_event(events, (HolePunchSucceeded, HolePunchFailed))
        assert isinstance(failed, HolePunchFailed), failed
        assert failed.attempts == 3
        assert "all 3 attempts failed" in failed.reason
        assert net.b.connection_to(net.a.peer_id) is relayed


async def test_a_peer_reachable_directly_is_dialled_without_a_punch() -> None:
    a_service = dcutr(DCUtRConfig(allow_private_addrs=True, dial_timeout=3.0))
    b_service = dcutr(LOCAL)
    async with bed(a_service, b_service) as net:
        with net.a.events.subscribe() as events:
            relayed = await net.b.dial(net.circuit_to_a)
            with trio.fail_after(10):
                done = await first_event(events, (HolePunchSucceeded, HolePunchFailed))
        assert isinstance(done, HolePunchSucceeded), done
        assert (done.direct, done.attempts, done.rtt) == (True, 0, 0.0)
        assert done.addr in net.b.listen_addrs
        direct = net.a.connection_to(net.b.peer_id)
        assert direct is not None
        assert not direct.limited
        assert direct.role is Role.INITIATOR
        assert a_service.stats["direct_dials"] == a_service.stats["direct_succeeded"] == 1
        assert a_service.stats["started"] == 0  # no exchange
        assert b_service.stats["answered"] == 0
        await wait_until(lambda: relayed.superseded)


async def test_a_failed_direct_dial_falls_back_to_the_punch() -> None:
    # B does not listen and announces a dead address: A's direct dial fails, then B's punch
    # dial reaches A's listener (loopback has no NAT)
    a_service = dcutr(DCUtRConfig(allow_private_addrs=True, dial_timeout=3.0))
    b_config = DCUtRConfig(
        allow_private_addrs=True, dial_timeout=3.0, direct_first=False,
        addrs=lambda _n: [_dead_addr()],
    )  # fmt: skip
    async with bed(a_service, dcutr(b_config), b_listens=False) as net:
        net.b.set_announced_addrs([_dead_addr()])
        with net.a.events.subscribe() as events:
            await net.b.dial(net.circuit_to_a)
            with trio.fail_after(10):
                done = await first_event(events, (HolePunchSucceeded, HolePunchFailed))
        assert isinstance(done, HolePunchSucceeded), done
        assert not done.direct
        assert done.attempts >= 1  # round 1 may miss: A's dial to the dead address ends early
        assert a_service.stats["direct_dials"] == 1
        assert a_service.stats["direct_succeeded"] == 0
        assert a_service.stats["succeeded"] == 1


def _dead_addr() -> Multiaddr:
    return Multiaddr("/ip4/127.0.0.1/tcp/9")  # the discard port: nothing listens there
