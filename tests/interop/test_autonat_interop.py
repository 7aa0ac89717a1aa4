"""AutoNAT v1 with the real peers on loopback (js-libp2p 2.10 and py-libp2p 0.8.1 speak only
v1): our client against their servers, their clients against our server.

What each peer really does here (the assertions pin it down):

* py-libp2p's server never dials back: ``host.connect`` returns at once when a connection to
  the requester exists (it always does), so it answers ``OK`` for any address on the
  requester's IP, a closed port included.
* js-libp2p's server refuses private addresses and addresses of its own host, so on loopback
  every request is refused; the namespace test (``test_autonat_netns.py``) covers its dial-back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from p2pstack.compose import open_node
from p2pstack.host.connection import Connection
from p2pstack.host.events import PeerIdentified
from p2pstack.host.node import Node
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.protocols.nat.autonat import AutoNATConfig, AutoNATService, autonat
from p2pstack.protocols.nat.autonat.client import probe_v1
from p2pstack.protocols.nat.autonat.v1_messages import PROTOCOL_V1
from p2pstack.role import Role
from tests.helpers.autonat import SERVER, closed_port
from tests.interop.peers import JS_PEER, PY_PEER, run_script, script_listening

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
LAB = AutoNATConfig(allow_private_addrs=True, min_confirmations=1, max_servers=1)


@asynccontextmanager
async def our_node(config: AutoNATConfig) -> AsyncIterator[tuple[Node, AutoNATService]]:
    service = autonat(config)
    async with open_node(listen=[LOOPBACK], protocols=[identify()], services=[service]) as node:
        yield node, service


async def identified(node: Node, peer_addr: str) -> Connection:
    """Dial ``peer_addr``; return the connection once identify listed AutoNAT v1."""
    with node.events.subscribe() as events, trio.fail_after(10):
        conn = await node.dial(Multiaddr(peer_addr))
        async for event in events:
            if isinstance(event, PeerIdentified) and PROTOCOL_V1 in event.protocols:
                return conn
    raise AssertionError("unreachable")


async def test_py_client_against_our_server() -> None:
    async with our_node(SERVER) as (node, service):
        result = await run_script(
            "py", PY_PEER, ["dial", str(node.addrs[0]), "--listen", LOOPBACK, "--autonat"]
        )
        assert result["autonat"]["status"] == 0, result  # OK: we dialled it back
        assert result["autonat"]["addr"].startswith("/ip4/127.0.0.1/tcp/")
        assert service.server is not None
        assert service.server.stats == {"v1:ok": 1}


async def test_py_client_is_refused_a_private_address_by_a_public_server() -> None:
    async with our_node(AutoNATConfig(client=False, server=True)) as (node, service):
        result = await run_script(
            "py", PY_PEER, ["dial", str(node.addrs[0]), "--listen", LOOPBACK, "--autonat"]
        )
        assert result["autonat"] == {"status": 101, "addr": None}  # E_DIAL_REFUSED
        assert service.server is not None
        assert service.server.stats == {"v1:refused": 1}


async def test_our_client_against_the_py_server() -> None:
    """py answers, and our client reads its answers; but py says OK without dialling, even
    for a closed port (so one py server alone must never decide: min_confirmations)."""
    async with (
        script_listening("py", PY_PEER, ["listen", "--listen", LOOPBACK, "--autonat"]) as peer,
        our_node(LAB) as (node, _),
    ):
        conn = await identified(node, peer.listen_addrs[0])
        probe = await probe_v1(conn, node, node.listen_addrs[0], LAB)
        assert probe.version == 1
        assert probe.reachable is True
        inbound_before = [c for c in node.connections if c.role is Role.RESPONDER]
        closed = Multiaddr(f"/ip4/127.0.0.1/tcp/{closed_port()}")
        probe = await probe_v1(conn, node, closed, LAB)
        assert probe.reachable is True  # py's defect: it never dialled
        assert [c for c in node.connections if c.role is Role.RESPONDER] == inbound_before


async def test_our_client_against_the_js_server() -> None:
    async with (
        script_listening("js", JS_PEER, ["listen", "--listen", LOOPBACK, "--autonat"]) as peer,
        our_node(LAB) as (node, _),
    ):
        conn = await identified(node, peer.listen_addrs[0])
        probe = await probe_v1(conn, node, node.listen_addrs[0], LAB)
        assert probe.version == 1
        assert probe.reachable is None
        assert probe.reason == "E_DIAL_REFUSED: no dialable addresses"
