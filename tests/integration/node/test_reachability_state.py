"""The node's reachability is state set by measurements, published as an event on change."""

from __future__ import annotations

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.host.reachability import (
    Reachability,
    ReachabilityChanged,
    ReachabilityStatus,
)
from p2pstack.multiaddr import Multiaddr

ADDR = Multiaddr("/ip4/127.0.0.1/tcp/4001")


def test_status_lookups() -> None:
    status = ReachabilityStatus(
        Reachability.PUBLIC,
        ((ADDR, Reachability.PUBLIC), (Multiaddr("/ip4/127.0.0.1/tcp/4002"), Reachability.PRIVATE)),
    )
    assert status.public_addrs == (ADDR,)
    assert status.of(ADDR) is Reachability.PUBLIC
    assert status.of(Multiaddr("/ip4/127.0.0.1/tcp/9")) is Reachability.UNKNOWN
    assert status.to_json() == {
        "overall": "public",
        "addrs": {"/ip4/127.0.0.1/tcp/4001": "public", "/ip4/127.0.0.1/tcp/4002": "private"},
    }


@pytest.mark.trio
async def test_set_reachability_publishes_only_changes() -> None:
    async with open_node() as node:
        assert node.reachability.overall is Reachability.UNKNOWN
        with node.events.subscribe() as events:
            private = ReachabilityStatus(Reachability.PRIVATE, ((ADDR, Reachability.PRIVATE),))
            node.set_reachability(private, source="test")
            node.set_reachability(private, source="test")
            node.set_reachability(ReachabilityStatus(), source="test")
            got = []
            with trio.move_on_after(0.05):
                async for ev in events:
                    if isinstance(ev, ReachabilityChanged):
                        got.append(ev)
        assert [(e.previous.overall, e.status.overall) for e in got] == [
            (Reachability.UNKNOWN, Reachability.PRIVATE),
            (Reachability.PRIVATE, Reachability.UNKNOWN),
        ]
        assert node.stats()["reachability"] == {"overall": "unknown", "addrs": {}}
