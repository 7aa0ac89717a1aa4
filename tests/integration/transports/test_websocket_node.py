"""Nodes over WebSocket: one node on TCP and WebSocket at once, /dns4 dials, the CLI."""

from __future__ import annotations

import json
import os

from p2pstack.compose import open_node
from p2pstack.protocols.echo import echo, echo_peer
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.transports.dns import dns
from p2pstack.transports.tcp import tcp
from p2pstack.transports.websocket import websocket
from tests.helpers.cli import run_p2pstack, running_node


async def test_node_listens_on_tcp_and_websocket_at_once() -> None:
    async with (
        open_node(
            listen=["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"],
            transports=[tcp(), websocket()],
            protocols=[ping(), identify(), echo()],
        ) as server,
        open_node(transports=[tcp(), websocket()], protocols=[ping(), echo()]) as tcp_client,
        open_node(transports=[websocket()], protocols=[ping(), echo()]) as ws_client,
    ):
        tcp_addr, ws_addr = server.addrs
        assert str(ws_addr).endswith(f"/ws/p2p/{server.peer_id}")
        payload = os.urandom(300_000)
        for client, addr in ((tcp_client, tcp_addr), (ws_client, ws_addr)):
            conn = await client.dial(addr)
            assert conn.peer_id == server.peer_id
            assert conn.remote_addr == addr.without_peer_id()
            assert len(await ping_peer(client, conn, count=2)) == 2
            assert await echo_peer(client, conn, payload) == payload
        ws_conns = [c for c in server.connections if c.remote_addr.has_protocol("ws")]
        assert len(ws_conns) == 1


async def test_dns4_localhost_dials_over_tcp_and_websocket() -> None:
    async with (
        open_node(
            listen=["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"],
            transports=[tcp(), websocket()],
        ) as server,
        open_node(transports=[dns([tcp()])]) as tcp_client,
        open_node(transports=[dns([websocket()])]) as ws_client,
    ):
        tcp_port = server.listen_addrs[0].value_for("tcp")
        ws_port = server.listen_addrs[1].value_for("tcp")
        conn = await tcp_client.dial(f"/dns4/localhost/tcp/{tcp_port}/p2p/{server.peer_id}")
        assert conn.peer_id == server.peer_id
        assert str(conn.remote_addr) == f"/ip4/127.0.0.1/tcp/{tcp_port}"
        conn = await ws_client.dial(f"/dns4/localhost/tcp/{ws_port}/ws/p2p/{server.peer_id}")
        assert conn.peer_id == server.peer_id
        assert str(conn.remote_addr) == f"/ip4/127.0.0.1/tcp/{ws_port}/ws"
        assert len(await ping_peer(ws_client, conn, count=1)) == 1


async def test_cli_node_listens_on_websocket_and_cli_pings_it() -> None:
    async with running_node(
        "--listen", "/ip4/127.0.0.1/tcp/0/ws", "--listen", "/ip4/127.0.0.1/tcp/0"
    ) as info:
        ws_addrs = [a for a in info["listen_addrs"] if "/ws/" in a]
        assert len(ws_addrs) == 1
        assert "/tcp/0/" not in ws_addrs[0]
        result = await run_p2pstack("ping", ws_addrs[0], "--count", "2", "--json")
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout.splitlines()[-1])
        assert answer["peer_id"] == info["peer_id"]
        assert len(answer["rtts_ms"]) == 2
