"""The gater's relay hooks: reservations and circuits on the relay, relayed connections on
the client; a refusal by False or by ConnectionDenied is the same refusal (real TCP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from p2pstack.compose import open_node
from p2pstack.errors import ConnectionDenied, DialError, TransportError
from p2pstack.host.gater import Gater
from p2pstack.host.node import Node
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.protocols.relay import RelayRefused, RelayService, Status, relay_server

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
HOW = pytest.mark.parametrize("raises", [False, True], ids=["returns-false", "raises"])


class _Ban(Gater):
    """Refuses ``banned`` in the relay hooks, by returning False or raising."""

    def __init__(self, *, raises: bool = False, bug: bool = False) -> None:
        self.raises = raises
        self.bug = bug
        self.banned: set[PeerId] = set()
        self.calls: list[str] = []

    def _verdict(self, hook: str, *peers: PeerId) -> bool:
        self.calls.append(hook)
        if not self.banned.intersection(peers):
            return True
        if self.bug:
            raise RuntimeError(f"{hook} bug")
        if self.raises:
            raise ConnectionDenied(f"{hook}: banned", stage=hook)
        return False

    def allow_relay_reservation(self, peer: PeerId, remote_addr: Multiaddr) -> bool:
        return self._verdict("relay-reservation", peer)

    def allow_relay_circuit(self, source: PeerId, target: PeerId) -> bool:
        return self._verdict("relay-circuit", source, target)

    def allow_relayed_accept(self, relay: PeerId, source: PeerId) -> bool:
        return self._verdict("relayed-accept", source)


@asynccontextmanager
async def relay(gater: Gater | None = None) -> AsyncIterator[tuple[Node, RelayService]]:
    service = relay_server()
    async with open_node(
        listen=[LOOPBACK], protocols=[ping(), identify(), service], gater=gater
    ) as node:
        yield node, service


def circuit_of(node: Node) -> str:
    return str(next(a for a in node.addrs if a.has_protocol("p2p-circuit")))


def refusal_status(error: BaseException) -> int:
    chain: list[BaseException] = []
    todo: list[BaseException] = [error]
    while todo:
        item = todo.pop()
        chain.append(item)
        if isinstance(item, DialError):
            todo.extend(e for _, e in item.attempts)
        todo.extend(e for e in (item.__cause__, item.__context__) if e is not None)
    found = [e for e in chain if isinstance(e, RelayRefused)]
    assert found, repr(error)
    return found[0].status


@HOW
async def test_relay_refuses_a_reservation_the_gater_denies(raises: bool) -> None:
    gater = _Ban(raises=raises)
    async with relay(gater) as (server, service), open_node() as banned, open_node() as friend:
        gater.banned.add(banned.peer_id)
        with pytest.raises(TransportError) as info:
            await banned.listen(f"{server.addrs[0]}/p2p-circuit")
        assert refusal_status(info.value) == Status.RESERVATION_REFUSED
        assert service.metrics.refusals["GATER"] == 1
        await friend.listen(f"{server.addrs[0]}/p2p-circuit")
        assert service.metrics.active_reservations == 1
        assert server.faults.total == 0


@HOW
async def test_relay_refuses_a_circuit_the_gater_denies(raises: bool) -> None:
    gater = _Ban(raises=raises)
    async with (
        relay(gater) as (server, service),
        open_node() as target,
        open_node() as banned,
        open_node() as friend,
    ):
        await target.listen(f"{server.addrs[0]}/p2p-circuit")
        gater.banned.add(banned.peer_id)
        with pytest.raises(DialError) as info:
            await banned.dial(circuit_of(target))
        assert refusal_status(info.value) == Status.PERMISSION_DENIED
        assert service.metrics.refusals["GATER"] == 1
        assert len(await ping_peer(friend, circuit_of(target), count=1)) == 1
        assert service.metrics.circuits_opened == 1
        assert "relay-circuit" in gater.calls
        assert server.faults.total == 0


@HOW
async def test_client_refuses_a_relayed_connection_its_gater_denies(raises: bool) -> None:
    gater = _Ban(raises=raises)
    async with (
        relay() as (server, service),
        open_node(gater=gater) as target,
        open_node() as banned,
        open_node() as friend,
    ):
        await target.listen(f"{server.addrs[0]}/p2p-circuit")
        gater.banned.add(banned.peer_id)
        with pytest.raises(DialError) as info:
            await banned.dial(circuit_of(target))
        # the target answered the relay's stop request with a refusal
        assert refusal_status(info.value) == Status.CONNECTION_FAILED
        assert service.metrics.circuits_opened == 0
        assert banned.peer_id not in {c.peer_id for c in target.connections}
        assert len(await ping_peer(friend, circuit_of(target), count=1)) == 1
        assert gater.calls.count("relayed-accept") == 2
        assert target.faults.total == 0


async def test_a_relay_hook_bug_refuses_and_counts_as_a_gater_fault() -> None:
    gater = _Ban(bug=True)
    async with relay(gater) as (server, _), open_node() as client:
        gater.banned.add(client.peer_id)
        with pytest.raises(TransportError) as info:
            await client.listen(f"{server.addrs[0]}/p2p-circuit")
        assert refusal_status(info.value) == Status.RESERVATION_REFUSED
        assert server.faults.counts["gater", "RuntimeError"] == 1
