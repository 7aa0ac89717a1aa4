"""Dialling peers with several addresses, concurrency, simultaneous connect, peer store."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from p2pstack.compose import open_node
from p2pstack.errors import DialError, MultiaddrNotSupported
from p2pstack.host.connection import SUPERSEDED_GRACE
from p2pstack.host.netstream import NetStream
from p2pstack.host.node import NodeConfig
from p2pstack.host.peerstore import PeerStore
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.transports.memory import MemoryNetwork, memory
from p2pstack.transports.tcp import tcp
from tests.helpers.nodes import tcp_node


async def _dead_tcp_addr() -> Multiaddr:
    """A loopback port nobody listens on (bound, then closed)."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    await listeners[0].aclose()
    return Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")


async def test_peer_with_dead_addresses_is_reached_through_the_live_one() -> None:
    async with tcp_node() as server, tcp_node(listen=False) as client:
        dead = [await _dead_tcp_addr() for _ in range(3)]
        client.peerstore.add_addrs(server.peer_id, [*dead, *server.listen_addrs])
        for addr in dead:  # make them look best: tried first
            client.peerstore.mark_success(server.peer_id, addr)
        start = trio.current_time()
        conn = await client.dial(server.peer_id)
        assert trio.current_time() - start < 5
        assert conn.remote_addr == server.listen_addrs[0]
        # the live address is now preferred, the dead ones go last
        assert client.peerstore.addrs(server.peer_id)[0] == server.listen_addrs[0]


async def test_all_addresses_fail_lists_each() -> None:
    async with tcp_node(listen=False) as client:
        peer = Identity.generate().peer_id
        dead = [await _dead_tcp_addr() for _ in range(2)]
        client.peerstore.add_addrs(peer, dead)
        with pytest.raises(DialError) as info:
            await client.dial(peer)
        assert {addr for addr, _ in info.value.attempts} == {
            str(a.with_peer_id(peer)) for a in dead
        }
        assert "could not connect" in str(info.value)


async def test_unknown_peer_and_unsupported_address() -> None:
    async with tcp_node(listen=False) as client:
        with pytest.raises(DialError, match="no known addresses"):
            await client.dial(Identity.generate().peer_id)
        with pytest.raises(DialError) as info:
            await client.dial(Multiaddr("/ip4/127.0.0.1/udp/1/quic"))  # draft QUIC: unsupported
        assert isinstance(info.value.attempts[0][1], MultiaddrNotSupported)


async def test_simultaneous_connect_keeps_one_connection_each_side(
    autojump_clock: object,
) -> None:
    network = MemoryNetwork()
    async with (
        open_node(transports=[memory(network)], listen=["/memory/0"], protocols=[ping()]) as a,
        open_node(transports=[memory(network)], listen=["/memory/0"], protocols=[ping()]) as b,
    ):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(a.dial, b.addrs[0])
            nursery.start_soon(b.dial, a.addrs[0])
        # A dial returns once its own side is upgraded; the other side may still be finishing
        # the inbound half (the dialer's muxer selection is lazy).
        await trio.testing.wait_all_tasks_blocked()
        assert len(a.connections) == len(b.connections) == 2
        chosen_a = a.connection_to(b.peer_id)
        chosen_b = b.connection_to(a.peer_id)
        assert chosen_a is not None
        assert chosen_b is not None
        # both sides picked the same connection: one side's outbound is the other's inbound
        assert chosen_a.role is not chosen_b.role
        assert chosen_a.local_addr == chosen_b.remote_addr
        await ping_peer(a, b.peer_id)
        with trio.fail_after(SUPERSEDED_GRACE + 1):
            for conn in a.connections + b.connections:
                if conn.superseded:
                    await conn.wait_closed()
        assert a.connections == [chosen_a]
        assert b.connections == [chosen_b]


async def test_memory_transport_nodes() -> None:
    network = MemoryNetwork()
    async with (
        open_node(transports=[memory(network)], listen=["/memory/0"]) as server,
        open_node(transports=[memory(network), tcp()]) as client,
    ):
        assert str(server.listen_addrs[0]).startswith("/memory/")
        assert len(await ping_peer(client, server.addrs[0], count=2)) == 2
        with pytest.raises(DialError):
            await client.dial(Multiaddr("/memory/999999").with_peer_id(Identity.generate().peer_id))


def test_peerstore_expiry_and_ordering() -> None:
    now = [0.0]
    store = PeerStore(clock=lambda: now[0])
    peer = Identity.generate().peer_id
    a, b, c = (Multiaddr(f"/ip4/10.0.0.{i}/tcp/1") for i in (1, 2, 3))
    store.add_addrs(peer, [a], ttl=10)
    store.add_addrs(peer, [b, c], ttl=100)
    assert store.addrs(peer) == [b, c, a] or store.addrs(peer) == [c, b, a]
    store.mark_failure(peer, b)
    store.mark_success(peer, a)
    assert store.addrs(peer)[0] == a
    assert store.addrs(peer)[-1] == b
    now[0] = 50
    assert a not in store.addrs(peer)


async def test_idle_connection_closes_and_busy_one_stays(autojump_clock: object) -> None:
    network = MemoryNetwork()
    patient = NodeConfig(idle_timeout=None)  # the server never closes: the client decides
    async with (
        open_node(transports=[memory(network)], listen=["/memory/0"], config=patient) as server,
        open_node(transports=[memory(network)], config=NodeConfig(idle_timeout=30)) as client,
    ):

        async def hold(stream: NetStream) -> None:
            await stream.receive_until_eof(16)

        server.set_stream_handler("/hold/1.0.0", hold)
        conn = await client.dial(server.addrs[0])
        stream = await conn.new_stream("/hold/1.0.0")
        await trio.sleep(100)  # a stream is open on both sides: not idle
        assert not conn.is_closed
        await stream.send_eof()
        await stream.aclose()
        conn.keep_alive = True
        conn.touch()
        await trio.sleep(100)
        assert not conn.is_closed
        conn.keep_alive = False
        conn.touch()
        with trio.fail_after(31):
            await conn.wait_closed()


def test_peerstore_is_bounded_and_forgets(monkeypatch: pytest.MonkeyPatch) -> None:
    import p2pstack.host.peerstore as peerstore_module

    monkeypatch.setattr(peerstore_module, "MAX_PEERS", 3)
    store = PeerStore(clock=lambda: 0.0)
    peers = [Identity.generate().peer_id for _ in range(4)]
    for ttl, peer in enumerate(peers, start=1):
        store.add_addrs(peer, [Multiaddr("/ip4/10.0.0.1/tcp/1")], ttl=ttl * 10)
    assert len(store.peers()) == 3
    assert peers[0] not in store.peers()  # expired first, evicted first
    store.forget(peers[3])
    assert store.info(peers[3]) is None


async def test_dns_address_is_resolved_and_peer_id_kept() -> None:
    async with tcp_node() as server, tcp_node(listen=False) as client:
        port = server.listen_addrs[0].value_for("tcp")
        conn = await client.dial(Multiaddr(f"/dns4/localhost/tcp/{port}/p2p/{server.peer_id}"))
        assert conn.peer_id == server.peer_id
        assert conn.remote_addr == server.listen_addrs[0]
        impostor = Identity.generate().peer_id
        with pytest.raises(DialError):
            await client.dial(Multiaddr(f"/dns4/localhost/tcp/{port}/p2p/{impostor}"))
