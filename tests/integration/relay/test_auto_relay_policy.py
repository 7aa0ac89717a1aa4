"""Auto-relay follows the measured reachability: every transition, driven with
``node.set_reachability`` (what the AutoNAT service calls), on in-memory nodes."""

from __future__ import annotations

from typing import TypeVar

import pytest
import trio
import trio.testing

from p2pstack.errors import InvalidConfigError
from p2pstack.host.events import Event
from p2pstack.host.node import Node
from p2pstack.host.reachability import Reachability, ReachabilityStatus
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.relay import AutoRelayConfig, RelayDropped, RelayReserved, auto_relay
from p2pstack.transports.memory import MemoryNetwork
from tests.integration.relay.test_relay_nodes import plain_node, relay_node

PRIVATE = ReachabilityStatus(
    Reachability.PRIVATE, ((Multiaddr("/ip4/10.0.0.2/tcp/4001"), Reachability.PRIVATE),)
)
PUBLIC = ReachabilityStatus(
    Reachability.PUBLIC, ((Multiaddr("/ip4/1.2.3.4/tcp/4001"), Reachability.PUBLIC),)
)
UNKNOWN = ReachabilityStatus()
E = TypeVar("E", bound=Event)


def relayed(node: Node) -> list[Multiaddr]:
    return [a for a in node.listen_addrs if a.has_protocol("p2p-circuit")]


async def next_of(events: trio.MemoryReceiveChannel[Event], kind: type[E]) -> E:
    with trio.fail_after(30):
        while True:
            event = await events.receive()
            if isinstance(event, kind):
                return event


async def test_reserves_only_when_private_and_drops_when_public(
    autojump_clock: trio.testing.MockClock,
) -> None:
    network = MemoryNetwork()
    discovery = auto_relay(AutoRelayConfig(relays=1))
    async with (
        relay_node(network=network) as (relay, _),
        plain_node(network, services=[discovery]) as node,
    ):
        with node.events.subscribe() as events:
            await node.dial(relay.addrs[0])  # identified: a candidate
            await trio.sleep(120)  # UNKNOWN: it waits for a verdict, however long
            assert not discovery.relays
            assert not relayed(node)

            node.set_reachability(PRIVATE, source="test")
            reserved = await next_of(events, RelayReserved)
            assert reserved.relay == relay.peer_id
            assert relayed(node)
            assert set(reserved.addrs) == set(relayed(node))

            node.set_reachability(UNKNOWN, source="test")  # no verdict: keep what is held
            await trio.sleep(120)
            assert relay.peer_id in discovery.relays

            node.set_reachability(PUBLIC, source="test")
            dropped = await next_of(events, RelayDropped)
            assert dropped == RelayDropped(relay.peer_id, "public")
            assert not discovery.relays
            assert not relayed(node)
            await trio.sleep(120)  # public: nothing new either
            assert not discovery.relays

            node.set_reachability(PRIVATE, source="test")  # private again: reserves again
            assert (await next_of(events, RelayReserved)).relay == relay.peer_id
            assert relayed(node)


@pytest.mark.parametrize(
    ("config", "status", "reserves"),
    [
        (AutoRelayConfig(relays=1, reserve_when_unknown=True), UNKNOWN, True),
        (AutoRelayConfig(relays=1, force=True), UNKNOWN, True),
        (AutoRelayConfig(relays=1, force=True), PUBLIC, True),
        (AutoRelayConfig(relays=1, reserve_when_unknown=True), PUBLIC, False),
    ],
)
async def test_explicit_intent(
    autojump_clock: trio.testing.MockClock,
    config: AutoRelayConfig,
    status: ReachabilityStatus,
    reserves: bool,
) -> None:
    network = MemoryNetwork()
    discovery = auto_relay(config)
    async with (
        relay_node(network=network) as (relay, _),
        plain_node(network, services=[discovery]) as node,
    ):
        node.set_reachability(status, source="test")
        await node.dial(relay.addrs[0])
        await trio.sleep(60)
        assert (relay.peer_id in discovery.relays) is reserves
        assert bool(relayed(node)) is reserves


def test_wants_relays_table() -> None:
    default = AutoRelayConfig()
    assert default.wants_relays(Reachability.PRIVATE) is True
    assert default.wants_relays(Reachability.PUBLIC) is False
    assert default.wants_relays(Reachability.UNKNOWN) is None
    assert AutoRelayConfig(reserve_when_unknown=True).wants_relays(Reachability.UNKNOWN) is True
    assert AutoRelayConfig(force=True).wants_relays(Reachability.PUBLIC) is True
    with pytest.raises(InvalidConfigError):
        AutoRelayConfig(relays=0)
