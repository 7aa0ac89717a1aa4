"""The gater's one contract: a hook refuses by returning False or by raising ConnectionDenied,
and the node handles both the same way (a refusal, never a fault, never the node's end)."""

from __future__ import annotations

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.errors import ConnectionDenied, DialError
from p2pstack.host.connection import Connection
from p2pstack.host.gater import Gater
from p2pstack.host.node import Node
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.ping import ping_peer
from p2pstack.role import Role
from tests.helpers import wait_until

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
INBOUND_STAGES = ("accept", "secured", "upgraded")


class _RefuseOne(Gater):
    """Refuses ``self.banned`` (or, at the accept stage, the first connection) at ``stage``,
    by returning False or by raising ConnectionDenied."""

    def __init__(self, stage: str, *, raises: bool) -> None:
        self.stage = stage
        self.raises = raises
        self.banned: PeerId | None = None
        self.refused = 0

    def _verdict(self, stage: str, refuse: bool) -> bool:
        if stage != self.stage or not refuse:
            return True
        self.refused += 1
        if self.raises:
            raise ConnectionDenied(f"no ({stage})", stage=stage)
        return False

    def allow_accept(self, remote_addr: Multiaddr) -> bool:
        return self._verdict("accept", self.refused == 0)

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        return self._verdict("secured", role is Role.RESPONDER and peer == self.banned)

    def allow_upgraded(self, connection: Connection) -> bool:
        return self._verdict("upgraded", connection.peer_id == self.banned)


async def _refused_then_served(gater: _RefuseOne, server: Node, banned: Node, friend: Node) -> None:
    gater.banned = banned.peer_id
    with pytest.raises((DialError, trio.BrokenResourceError, trio.ClosedResourceError)):
        await ping_peer(banned, server.addrs[0])
    assert gater.refused == 1
    # the listening node is alive and serves another peer
    assert len(await ping_peer(friend, server.addrs[0], count=2)) == 2
    assert server.faults.total == 0, server.faults.counts


@pytest.mark.parametrize("raises", [False, True], ids=["returns-false", "raises"])
@pytest.mark.parametrize("stage", INBOUND_STAGES)
async def test_inbound_refusal_by_return_or_raise_keeps_the_listener_serving(
    stage: str, raises: bool
) -> None:
    gater = _RefuseOne(stage, raises=raises)
    async with (
        open_node(listen=[LOOPBACK], gater=gater) as server,
        open_node() as banned,
        open_node() as friend,
    ):
        await _refused_then_served(gater, server, banned, friend)


class _NoDial(Gater):
    def __init__(self, *, raises: bool) -> None:
        self.raises = raises

    def allow_dial(self, peer: PeerId | None, addr: Multiaddr) -> bool:
        if self.raises:
            raise ConnectionDenied("not this one", stage="dial")
        return False


@pytest.mark.parametrize("raises", [False, True], ids=["returns-false", "raises"])
async def test_dial_refusal_by_return_or_raise_is_one_denied_attempt(raises: bool) -> None:
    async with (
        open_node(listen=[LOOPBACK]) as server,
        open_node(gater=_NoDial(raises=raises)) as client,
    ):
        with pytest.raises(DialError) as info:
            await client.dial(server.addrs[0])
        ((_, error),) = info.value.attempts
        assert isinstance(error, ConnectionDenied)
        assert error.stage == "dial"
        assert client.faults.total == 0


class _Buggy(Gater):
    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        raise RuntimeError("gater bug")


async def test_a_gater_bug_refuses_and_counts_as_a_gater_fault() -> None:
    async with (
        open_node(listen=[LOOPBACK], gater=_Buggy()) as server,
        open_node() as client,
    ):
        with pytest.raises((DialError, trio.BrokenResourceError, trio.ClosedResourceError)):
            await ping_peer(client, server.addrs[0])
        await wait_until(lambda: server.faults.counts["gater", "RuntimeError"] == 1)
        assert not server.connections
