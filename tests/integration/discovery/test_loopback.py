"""Two p2pstack nodes on 127.0.0.1 find each other with mDNS and connect (no namespaces).

zeroconf is restricted to ``interfaces=("127.0.0.1",)``: nothing reaches a real interface.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import trio
from prometheus_client import CollectorRegistry

from p2pstack.compose import open_node
from p2pstack.errors import InvalidConfigError
from p2pstack.host.events import Event
from p2pstack.host.node import Node
from p2pstack.identity import PeerId
from p2pstack.protocols.discovery.mdns import MdnsConfig, MdnsService, PeerDiscovered, mdns
from p2pstack.protocols.discovery.metrics import DiscoveryMetrics, register_discovery_metrics
from p2pstack.protocols.ping import ping, ping_peer

LOOPBACK = ("127.0.0.1",)
LISTEN = ["/ip4/127.0.0.1/tcp/0"]
# Registration probes for about 1.7 s; mDNS rate-limits repeated answers to about 1/s.
FOUND_WITHIN = 15.0


def service(**kwargs: object) -> MdnsService:
    return mdns(MdnsConfig(interfaces=LOOPBACK, **kwargs))  # type: ignore[arg-type]


async def wait_discovered(
    events: trio.MemoryReceiveChannel[Event], peer: PeerId, *, addrs: int = 1
) -> PeerDiscovered:
    with trio.fail_after(FOUND_WITHIN):
        async for event in events:
            if (
                isinstance(event, PeerDiscovered)
                and event.peer_id == peer
                and len(event.addrs) >= addrs
            ):
                return event
    raise AssertionError("unreachable")


async def wait_until(check: Callable[[], bool]) -> None:
    with trio.fail_after(FOUND_WITHIN):
        while True:
            if check():
                return
            await trio.sleep(0.05)


async def test_two_nodes_discover_each_other_and_connect(no_thread_leak: None) -> None:
    baseline = threading.active_count()
    sa, sb = service(), service(auto_dial=True)
    counted = DiscoveryMetrics()
    registry = CollectorRegistry()
    register_discovery_metrics(counted, registry)
    async with (
        open_node(listen=LISTEN, services=[sa, counted]) as a,
        open_node(listen=LISTEN, services=[sb]) as b,
    ):
        with a.events.subscribe() as ea, b.events.subscribe() as eb:
            async with trio.open_nursery() as nursery:
                found: dict[str, PeerDiscovered] = {}

                async def watch(name: str, ev: trio.MemoryReceiveChannel[Event], p: Node) -> None:
                    found[name] = await wait_discovered(ev, p.peer_id)

                nursery.start_soon(watch, "a", ea, b)
                nursery.start_soon(watch, "b", eb, a)
        assert found["a"].addrs == tuple(b.listen_addrs)
        assert found["b"].addrs == tuple(a.listen_addrs)
        assert found["a"].instance == sb.instance_name
        assert set(a.peerstore.addrs(b.peer_id)) == set(b.listen_addrs)
        assert sa.peers() == {b.peer_id: tuple(b.listen_addrs)}
        # b dials what it discovered (auto_dial); a just pings through its address book.
        await wait_until(lambda: b.connection_to(a.peer_id) is not None)
        assert len(await ping_peer(a, b.peer_id, count=2)) == 2
        assert threading.active_count() <= baseline + 2  # one zeroconf loop thread each
        assert sa.stats.rejected == 0
        assert sb.stats.rejected == 0
        found_by = "p2pstack_discovery_peers_discovered_total"
        assert (registry.get_sample_value(found_by, {"source": "mdns"}) or 0) >= 1
        assert registry.get_sample_value(found_by, {"source": "xmpp"}) == 0
    assert threading.active_count() <= baseline


async def test_new_listen_address_is_reannounced(no_thread_leak: None) -> None:
    sa, sb = service(), service()
    async with (
        open_node(listen=LISTEN, protocols=[ping()], services=[sa]) as a,
        open_node(protocols=[ping()], services=[sb]) as b,  # b listens later
    ):
        with a.events.subscribe() as ea:
            assert sb.advertised == ()
            await b.listen("/ip4/127.0.0.1/tcp/0")
            await wait_discovered(ea, b.peer_id)
            await b.listen("/ip4/127.0.0.1/tcp/0")
            event = await wait_discovered(ea, b.peer_id, addrs=2)
        assert set(event.addrs) == set(b.listen_addrs)
        assert len(sb.advertised) == 2


async def test_goodbye_on_shutdown_removes_the_peer(no_thread_leak: None) -> None:
    sa = service()
    async with open_node(listen=LISTEN, protocols=[ping()], services=[sa]) as a:
        with a.events.subscribe() as ea:
            async with open_node(listen=LISTEN, protocols=[ping()], services=[service()]) as b:
                await wait_discovered(ea, b.peer_id)
                gone = b.peer_id
                assert a.peerstore.addrs(gone) == b.listen_addrs
        await wait_until(lambda: gone not in sa.peers())
        assert a.peerstore.addrs(gone) == []


async def test_browse_only_does_not_advertise(no_thread_leak: None) -> None:
    quiet = service(advertise=False)
    sa = service()
    async with (
        open_node(listen=LISTEN, protocols=[ping()], services=[sa]) as a,
        open_node(listen=LISTEN, protocols=[ping()], services=[quiet]) as q,
    ):
        with q.events.subscribe() as eq:
            await wait_discovered(eq, a.peer_id)
        await trio.sleep(1.0)
        assert q.peer_id not in sa.peers()
        assert quiet.advertised == ()


def test_config_is_validated() -> None:
    with pytest.raises(InvalidConfigError):
        MdnsConfig(interfaces=("eth0",))
    with pytest.raises(InvalidConfigError):
        MdnsConfig(interfaces=())
    with pytest.raises(InvalidConfigError):
        MdnsConfig(max_peers=0)
    with pytest.raises(InvalidConfigError):
        MdnsConfig(peer_name="12D3KooW")
    with pytest.raises(InvalidConfigError):
        MdnsConfig(service_type="_http._tcp.local.")
    assert MdnsConfig(peer_name="a" * 32).peer_name == "a" * 32
