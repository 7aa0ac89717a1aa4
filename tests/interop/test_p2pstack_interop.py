"""p2pstack against real js-libp2p and py-libp2p processes, in both directions.

TCP + Noise + Yamux: identify, ping, echo of 1 MiB, 16 concurrent echo streams and a perf
transfer; and the ``p2pstack ping`` command line against each peer.
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
from protocols.perf import perf, perf_peer
from protocols.ping import PING_PROTOCOL, ping, ping_peer
from stack.node import open_node
from tests.interop.peers import Impl, peer_listening, run_dial

IMPLS = ["js", "py"]
ONE_MIB = 1 << 20


@pytest.mark.parametrize("impl", IMPLS)
async def test_peer_dials_p2pstack(impl: Impl) -> None:
    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"], protocols=[ping(), identify(), echo(), perf()]
    ) as node:
        addr = str(node.addrs[0])
        result = await run_dial(impl, addr, ping=5, identify=True, echo=ONE_MIB, streams=16)
        assert result["peer_id"] == str(node.peer_id)
        assert len(result["ping_rtts_ms"]) == 5
        assert result["echo_ok"] is True
        assert result["echo_bytes"] == ONE_MIB
        assert result["streams_ok"] == 16
        info = result["identify"]
        assert info["agent_version"] == AGENT_VERSION
        assert {PING_PROTOCOL, IDENTIFY_PROTOCOL, "/echo/1.0.0"} <= set(info["protocols"])
        assert any(a.startswith(str(node.listen_addrs[0])) for a in info["listen_addrs"])

        perf_result = await run_dial(impl, addr, perf_upload=8 * ONE_MIB, perf_download=8 * ONE_MIB)
        assert perf_result["perf"]["upload_bytes"] == 8 * ONE_MIB
        assert perf_result["perf"]["download_bytes"] == 8 * ONE_MIB


@pytest.mark.parametrize("impl", IMPLS)
async def test_p2pstack_dials_peer(impl: Impl) -> None:
    ident = identify()
    async with (
        peer_listening(impl) as peer,
        open_node(protocols=[ping(), ident]) as node,
    ):
        conn = await node.dial(peer.addr("tcp"))
        assert str(conn.peer_id) == peer.peer_id
        with trio.fail_after(15):
            info = await ident.wait_identified(conn)
        assert info is not None
        assert info.agent_version.startswith(f"{impl}-libp2p")
        assert PING_PROTOCOL in info.protocols
        assert info.observed_addr is not None
        assert info.observed_addr.without_peer_id() == conn.local_addr

        rtts = await ping_peer(node, conn, count=5)
        assert len(rtts) == 5

        payload = os.urandom(ONE_MIB)
        assert await echo_peer(node, conn, payload) == payload

        payloads = [os.urandom(64 * 1024) for _ in range(16)]
        answers: list[bytes] = []

        async def one(data: bytes) -> None:
            answers.append(await echo_peer(node, conn, data))

        async with trio.open_nursery() as nursery:
            for data in payloads:
                nursery.start_soon(one, data)
        assert sorted(answers) == sorted(payloads)

        result = await perf_peer(node, conn, upload=8 * ONE_MIB, download=8 * ONE_MIB)
        assert result.upload_bytes == 8 * ONE_MIB
        assert result.download_bytes == 8 * ONE_MIB
        assert len(node.connections) == 1


@pytest.mark.parametrize("impl", IMPLS)
async def test_cli_ping_reaches_peer(impl: Impl) -> None:
    script = Path(sys.executable).with_name("p2pstack")
    async with peer_listening(impl) as peer:
        result = await trio.run_process(
            [str(script), "ping", peer.addr("tcp"), "--count", "3", "--json"],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["peer_id"] == peer.peer_id
    assert len(report["rtts_ms"]) == 3
    assert report["connect_ms"] > 0
