"""The checks every interop variant (Noise or TLS over TCP and WebSocket, QUIC) runs alike.

* :func:`assert_peer_dialled` — what a js/py peer's ``dial`` reports after dialling our node
  with ping, identify, echo and concurrent streams;
* :func:`identified` — identify of a peer we dialled, from our side;
* :func:`exchange` — ping, one large echo and concurrent echo streams over a connection;
* :func:`cli_ping` — ``p2pstack ping --json`` against a listening peer.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from typing import Any

import trio

from p2pstack.host.connection import Connection
from p2pstack.host.node import Node
from p2pstack.protocols.echo import echo_peer
from p2pstack.protocols.identify import (
    AGENT_VERSION,
    IDENTIFY_PROTOCOL,
    IdentifyInfo,
    IdentifyService,
)
from p2pstack.protocols.ping import PING_PROTOCOL, ping_peer
from tests.helpers import SCRIPT
from tests.interop.peers import Impl

ONE_MIB = 1 << 20
STREAM_BYTES = 64 * 1024
"""What each of the concurrent echo streams sends."""


def assert_peer_dialled(
    result: dict[str, Any], node: Node, *, pings: int, streams: int, echo: int = ONE_MIB
) -> dict[str, Any]:
    """Check a peer's ``dial`` report (``dial_argv(..., ping=pings, identify=True,
    echo=echo, streams=streams)``) against ``node``; return its identify part."""
    assert result["peer_id"] == str(node.peer_id)
    assert len(result["ping_rtts_ms"]) == pings
    assert result["echo_ok"] is True
    assert result["echo_bytes"] == echo
    assert result["streams_ok"] == streams
    info: dict[str, Any] = result["identify"]
    assert info["agent_version"] == AGENT_VERSION
    assert {PING_PROTOCOL, IDENTIFY_PROTOCOL, "/echo/1.0.0"} <= set(info["protocols"])
    return info


async def identified(ident: IdentifyService, conn: Connection, impl: Impl) -> IdentifyInfo:
    """Wait (15 s at most) for identify of ``conn``'s peer, an ``impl``-libp2p serving ping."""
    with trio.fail_after(15):
        info = await ident.wait_identified(conn)
    assert info is not None
    assert info.agent_version.startswith(f"{impl}-libp2p")
    assert PING_PROTOCOL in info.protocols
    return info


async def exchange(
    node: Node, conn: Connection, *, pings: int, streams: int, echo: int = ONE_MIB
) -> None:
    """Over ``conn``: ``pings`` pings, an echo of ``echo`` random bytes, then ``streams``
    concurrent echoes of :data:`STREAM_BYTES` each; every answer is checked."""
    assert len(await ping_peer(node, conn, count=pings)) == pings
    payload = os.urandom(echo)
    assert await echo_peer(node, conn, payload) == payload
    payloads = [os.urandom(STREAM_BYTES) for _ in range(streams)]
    answers: list[bytes] = []

    async def one(data: bytes) -> None:
        answers.append(await echo_peer(node, conn, data))

    async with trio.open_nursery() as nursery:
        for data in payloads:
            nursery.start_soon(one, data)
    assert sorted(answers) == sorted(payloads)


async def cli_ping(addr: str, *, count: int, options: Sequence[str] = ()) -> dict[str, Any]:
    """Run ``p2pstack ping addr --count count --json *options``; check it succeeded and
    return its JSON report."""
    result = await trio.run_process(
        [str(SCRIPT), "ping", addr, "--count", str(count), "--json", *options],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr.decode()
    report: dict[str, Any] = json.loads(result.stdout)
    return report
