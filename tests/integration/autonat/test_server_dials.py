"""How an AutoNAT server dials back: from an ephemeral port even with TCP port reuse, and
only to IP versions it has an address of (the spec's server rules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from p2pstack.compose import open_node
from p2pstack.host.connection import Connection
from p2pstack.host.events import ConnectionOpened
from p2pstack.host.node import Node
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.protocols.nat.autonat import AutoNATService, autonat
from p2pstack.protocols.nat.autonat.client import DialBackReceiver, probe_v2
from p2pstack.protocols.nat.autonat.v2_messages import DIAL_BACK_PROTOCOL
from p2pstack.transports.tcp import TcpConfig, tcp
from tests.helpers.autonat import SERVER
from tests.integration.autonat.test_autonat import LAB


@asynccontextmanager
async def reuse_port_server() -> AsyncIterator[tuple[Node, AutoNATService]]:
    service = autonat(SERVER)
    async with open_node(
        transports=[tcp(TcpConfig(reuse_port=True))],
        listen=["/ip4/127.0.0.1/tcp/0"],
        protocols=[identify()],
        services=[service],
    ) as node:
        yield node, service


@asynccontextmanager
async def client(listen: list[str]) -> AsyncIterator[tuple[Node, DialBackReceiver]]:
    receiver = DialBackReceiver()
    async with open_node(listen=listen, protocols=[identify()]) as node:
        node.set_stream_handler(DIAL_BACK_PROTOCOL, receiver.handle)
        yield node, receiver


def port(addr: Multiaddr | None) -> str | None:
    assert addr is not None
    return addr.components()[1].value


async def test_a_dial_back_never_leaves_from_the_listening_port() -> None:
    async with (
        reuse_port_server() as (server, svc),
        client(["/ip4/127.0.0.1/tcp/0"]) as (node, receiver),
    ):
        listening = port(server.listen_addrs[0])
        conn = await node.dial(server.addrs[0])
        assert port(conn.remote_addr) == listening  # reuse_port: our dial left from it
        inbound: list[Connection] = []
        with node.events.subscribe() as events:
            probe = await probe_v2(conn, node.listen_addrs[0], LAB, receiver)
            while not inbound:
                event = await events.receive()
                if isinstance(event, ConnectionOpened) and event.connection is not conn:
                    inbound.append(event.connection)
        assert probe.reachable is True, probe
        assert svc.server is not None
        assert svc.server.stats == {"v2:ok": 1}
        assert port(inbound[0].remote_addr) != listening, inbound[0].remote_addr
        # The same node's ordinary dial still leaves from the listening port.
        async with client(["/ip4/127.0.0.1/tcp/0"]) as (other, _):
            ordinary = await server.dial(other.addrs[0])
            assert port(ordinary.local_addr) == listening


async def test_a_server_without_ipv6_refuses_an_ipv6_address() -> None:
    async with (
        reuse_port_server() as (server, svc),
        client(["/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0"]) as (node, receiver),
    ):
        conn = await node.dial(server.addrs[0])
        v6 = next(a for a in node.listen_addrs if a.components()[0].name == "ip6")
        refused = await probe_v2(conn, v6, LAB, receiver)
        assert (refused.reachable, refused.reason) == (None, "E_DIAL_REFUSED")
        v4 = next(a for a in node.listen_addrs if a.components()[0].name == "ip4")
        assert (await probe_v2(conn, v4, LAB, receiver)).reachable is True
        assert svc.server is not None
        assert svc.server.stats == {"v2:refused": 1, "v2:ok": 1}
