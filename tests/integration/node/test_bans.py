"""The node's ban list: banned peers are refused at every stage and their connections closed;
addresses the user adds are permanent unless given a TTL."""

from __future__ import annotations

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.errors import ConnectionDenied, DialError
from p2pstack.host.events import ConnectionRefused, Event
from p2pstack.host.gater import Gater
from p2pstack.host.peerstore import DEFAULT_TTL, PeerStore
from p2pstack.identity import Identity, PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.role import Role

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


async def _refusal(events: trio.MemoryReceiveChannel[Event]) -> ConnectionRefused:
    with trio.fail_after(5):
        async for event in events:
            if isinstance(event, ConnectionRefused):
                return event
    raise AssertionError("the event bus closed")


class _AllowEverything(Gater):
    """A user gater that allows all: the ban list is asked before it."""

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        return True


async def test_banning_closes_connections_and_refuses_dials_both_ways() -> None:
    async with (
        open_node(listen=[LOOPBACK], protocols=[ping()], gater=_AllowEverything()) as server,
        open_node(listen=[LOOPBACK], protocols=[ping()]) as client,
    ):
        conn = await client.dial(server.addrs[0])
        await ping_peer(client, conn)
        with server.events.subscribe() as events:
            await server.ban_peer(client.peer_id)
            assert server.banned_peers == frozenset({client.peer_id})
            with trio.fail_after(5):
                await conn.wait_closed()
            assert server.connection_to(client.peer_id) is None
            # our dial to the banned peer is refused locally, before any byte is sent
            with pytest.raises(DialError) as info:
                await server.dial(client.addrs[0])
            assert isinstance(info.value.attempts[0][1], ConnectionDenied)
            outbound = await _refusal(events)
            # its dial to us is refused once it authenticated
            conn = await client.dial(server.addrs[0])  # 0-RTT: the dialler finished
            with trio.fail_after(5):
                await conn.wait_closed()
            inbound = await _refusal(events)
        assert (outbound.stage, outbound.role) == ("dial", Role.INITIATOR)
        assert (inbound.stage, inbound.role) == ("secured", Role.RESPONDER)
        assert inbound.peer_id == client.peer_id
        assert server.unban_peer(client.peer_id)
        assert not server.unban_peer(client.peer_id)
        assert server.banned_peers == frozenset()
        assert len(await ping_peer(client, server.addrs[0])) == 1


async def test_ban_list_refuses_banned_peers_at_the_relay_hooks() -> None:
    async with open_node() as node:
        banned = Identity.generate().peer_id
        other = Identity.generate().peer_id
        await node.ban_peer(banned)
        addr = Multiaddr("/ip4/127.0.0.1/tcp/1")
        assert not node.gater.allow_relay_reservation(banned, addr)
        assert node.gater.allow_relay_reservation(other, addr)
        assert not node.gater.allow_relay_circuit(other, banned)
        assert not node.gater.allow_relayed_accept(banned, other)
        assert not node.gater.allow_dial(None, addr.with_peer_id(banned))


def test_user_addresses_are_permanent_unless_given_a_ttl() -> None:
    now = [0.0]
    store = PeerStore(clock=lambda: now[0])
    peer = Identity.generate().peer_id
    kept, learned = Multiaddr("/ip4/10.0.0.1/tcp/1"), Multiaddr("/ip4/10.0.0.2/tcp/2")
    store.add_addrs(peer, [kept])
    store.add_addrs(peer, [learned], DEFAULT_TTL)
    now[0] = DEFAULT_TTL * 1000
    assert store.addrs(peer) == [kept]
