"""p2pstack against real js-libp2p and py-libp2p processes over WebSocket, both directions.

``/ip4/127.0.0.1/tcp/0/ws`` + Noise + Yamux: ping, identify, echo (1 MiB and concurrent
streams), and the ``p2pstack ping`` command line against each peer's ``/ws`` address.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from protocols.echo import echo, echo_peer
from protocols.identify import AGENT_VERSION, IDENTIFY_PROTOCOL, identify
from protocols.ping import PING_PROTOCOL, ping, ping_peer
from stack.node import open_node
from tests.interop.peers import Impl, peer_listening, run_dial
from transports.tcp import tcp
from transports.websocket import websocket

IMPLS = ["js", "py"]
ONE_MIB = 1 << 20
WS_LISTEN = "/ip4/127.0.0.1/tcp/0/ws"


@pytest.mark.parametrize("impl", IMPLS)
async def test_peer_dials_p2pstack_over_websocket(impl: Impl) -> None:
    async with open_node(
        listen=[WS_LISTEN],
        transports=[tcp(), websocket()],
        protocols=[ping(), identify(), echo()],
    ) as node:
        addr = str(node.addrs[0])
        assert "/ws/p2p/" in addr
        result = await run_dial(impl, addr, ping=5, identify=True, echo=ONE_MIB, streams=8)
        assert result["peer_id"] == str(node.peer_id)
        assert len(result["ping_rtts_ms"]) == 5
        assert result["echo_ok"] is True
        assert result["echo_bytes"] == ONE_MIB
        assert result["streams_ok"] == 8
        info = result["identify"]
        assert info["agent_version"] == AGENT_VERSION
        assert {PING_PROTOCOL, IDENTIFY_PROTOCOL, "/echo/1.0.0"} <= set(info["protocols"])
        assert any(a.startswith(str(node.listen_addrs[0])) for a in info["listen_addrs"])


@pytest.mark.parametrize("impl", IMPLS)
async def test_p2pstack_dials_peer_over_websocket(impl: Impl) -> None:
    ident = identify()
    async with (
        peer_listening(impl, listen=[WS_LISTEN]) as peer,
        open_node(transports=[websocket()], protocols=[ping(), ident, echo()]) as node,
    ):
        conn = await node.dial(peer.addr("ws"))
        assert str(conn.peer_id) == peer.peer_id
        assert conn.remote_addr.has_protocol("ws")
        with trio.fail_after(15):
            info = await ident.wait_identified(conn)
        assert info is not None
        assert info.agent_version.startswith(f"{impl}-libp2p")
        assert PING_PROTOCOL in info.protocols
        assert any(a.has_protocol("ws") for a in info.listen_addrs)

        assert len(await ping_peer(node, conn, count=5)) == 5

        payload = os.urandom(ONE_MIB)
        assert await echo_peer(node, conn, payload) == payload

        payloads = [os.urandom(64 * 1024) for _ in range(8)]
        answers: list[bytes] = []

        async def one(data: bytes) -> None:
            answers.append(await echo_peer(node, conn, data))

        async with trio.open_nursery() as nursery:
            for data in payloads:
                nursery.start_soon(one, data)
        assert sorted(answers) == sorted(payloads)
        assert len(node.connections) == 1


@pytest.mark.parametrize("impl", IMPLS)
async def test_cli_ping_reaches_peer_over_websocket(impl: Impl) -> None:
    script = Path(sys.executable).with_name("p2pstack")
    async with peer_listening(impl, listen=[WS_LISTEN]) as peer:
        result = await trio.run_process(
            [str(script), "ping", peer.addr("ws"), "--count", "3", "--json"],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["peer_id"] == peer.peer_id
    assert len(report["rtts_ms"]) == 3
