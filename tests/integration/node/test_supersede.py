"""Many connections between two peers: one preferred connection, the same on both sides, kept
by comparing each new connection with the preferred one only."""

from __future__ import annotations

import trio
import trio.testing

from p2pstack.compose import open_node
from p2pstack.host.connection import Connection
from p2pstack.host.limits import ConnectionLimits
from p2pstack.host.node import Node, NodeConfig
from p2pstack.role import Role
from p2pstack.transports.memory import MemoryNetwork, memory


def _reference_best(node: Node, live: list[Connection]) -> Connection:
    """The preferred connection by the rule both sides apply, over all live connections."""
    us = node.peer_id

    def rank(c: Connection) -> tuple[bool, bool, float]:
        dialer = us if c.role is Role.INITIATOR else c.peer_id
        return (c.limited, dialer != min(us, c.peer_id), c.opened_at)

    return min(live, key=rank)


def _check(node: Node) -> Connection:
    live = node.connections
    best = _reference_best(node, live)
    assert all(c.superseded for c in live if c is not best)
    return best


async def test_one_preferred_connection_among_many_both_ways() -> None:
    network = MemoryNetwork()
    config = NodeConfig(limits=ConnectionLimits(max_per_peer=None))
    async with (
        open_node(transports=[memory(network)], listen=["/memory/0"], config=config) as a,
        open_node(transports=[memory(network)], listen=["/memory/0"], config=config) as b,
    ):
        for node in (a, b):  # hold superseded connections open (no grace period close)
            node.add_connection_callback(lambda conn: setattr(conn, "keep_alive", True))
        for index in range(12):
            dialer, target = (a, b) if index % 3 else (b, a)
            await dialer.dial(target.addrs[0].without_peer_id())  # a new connection each
            await trio.sleep(0.001)  # distinct opening times
        await trio.testing.wait_all_tasks_blocked()
        assert len(a.connections) == len(b.connections) == 12
        best_a, best_b = _check(a), _check(b)
        assert not best_a.superseded
        assert a.connection_to(b.peer_id) is best_a
        assert best_a.local_addr == best_b.remote_addr  # the same connection on both sides
        assert best_a.role is not best_b.role

        # The preferred one closes: the others stay superseded, and the next connection is
        # ranked against all of them again.
        await best_a.aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert len(a.connections) == len(b.connections) == 11
        assert all(c.superseded for c in a.connections + b.connections)
        await b.dial(a.addrs[0].without_peer_id())
        await trio.testing.wait_all_tasks_blocked()
        for node in (a, b):
            best = _check(node)
            newest = max(node.connections, key=lambda c: c.opened_at)
            assert newest.superseded is (newest is not best)
