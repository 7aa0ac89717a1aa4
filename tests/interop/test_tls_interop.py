"""p2pstack's libp2p TLS 1.3 (``/tls/1.0.0``) against js-libp2p (@libp2p/tls) and py-libp2p
over TCP, both directions: identify, ping, echo (plus concurrent streams), and the
``p2pstack ping --security tls`` command line. The peers run with ``--security tls`` (TLS only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.protocols.echo import echo, echo_peer
from p2pstack.protocols.identify import AGENT_VERSION, IDENTIFY_PROTOCOL, identify
from p2pstack.protocols.ping import PING_PROTOCOL, ping, ping_peer
from p2pstack.security import tls
from tests.interop.peers import JS_PEER, PY_PEER, Impl, dial_argv, run_script, script_listening

IMPLS = ["js", "py"]
SCRIPTS = {"js": JS_PEER, "py": PY_PEER}
ONE_MIB = 1 << 20
TLS = ["--security", "tls"]


@pytest.mark.parametrize("impl", IMPLS)
async def test_peer_dials_p2pstack_over_tls(impl: Impl) -> None:
    # The node offers /tls/1.0.0 only: a successful dial is a TLS one.
    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"], security=[tls()], protocols=[ping(), identify(), echo()]
    ) as node:
        addr = str(node.addrs[0])
        argv = dial_argv(addr, ping=3, identify=True, echo=ONE_MIB, streams=4, timeout=60)
        result = await run_script(impl, SCRIPTS[impl], [*argv, *TLS], time_limit=70)
        assert result["peer_id"] == str(node.peer_id)
        assert len(result["ping_rtts_ms"]) == 3
        assert result["echo_ok"] is True
        assert result["echo_bytes"] == ONE_MIB
        assert result["streams_ok"] == 4
        info = result["identify"]
        assert info["agent_version"] == AGENT_VERSION
        assert {PING_PROTOCOL, IDENTIFY_PROTOCOL, "/echo/1.0.0"} <= set(info["protocols"])


@pytest.mark.parametrize("impl", IMPLS)
async def test_p2pstack_dials_peer_over_tls(impl: Impl) -> None:
    ident = identify()
    listen = ["listen", "--listen", "/ip4/127.0.0.1/tcp/0", *TLS]
    async with (
        script_listening(impl, SCRIPTS[impl], listen) as peer,
        open_node(security=[tls()], protocols=[ping(), ident, echo()]) as node,
    ):
        conn = await node.dial(peer.addr("tcp"))
        assert str(conn.peer_id) == peer.peer_id
        assert conn.security_protocol == "/tls/1.0.0"
        with trio.fail_after(15):
            info = await ident.wait_identified(conn)
        assert info is not None
        assert info.agent_version.startswith(f"{impl}-libp2p")
        assert len(await ping_peer(node, conn, count=3)) == 3
        payload = os.urandom(ONE_MIB)
        assert await echo_peer(node, conn, payload) == payload
        payloads = [os.urandom(64 * 1024) for _ in range(4)]
        answers: list[bytes] = []

        async def one(data: bytes) -> None:
            answers.append(await echo_peer(node, conn, data))

        async with trio.open_nursery() as nursery:
            for data in payloads:
                nursery.start_soon(one, data)
        assert sorted(answers) == sorted(payloads)


@pytest.mark.parametrize("impl", IMPLS)
async def test_cli_ping_over_tls(impl: Impl) -> None:
    script = Path(sys.executable).with_name("p2pstack")
    listen = ["listen", "--listen", "/ip4/127.0.0.1/tcp/0", *TLS]
    async with script_listening(impl, SCRIPTS[impl], listen) as peer:
        result = await trio.run_process(
            [str(script), "ping", peer.addr("tcp"), "--count", "2", "--json", *TLS],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["peer_id"] == peer.peer_id
