"""p2pstack against real js-libp2p and py-libp2p processes, in both directions, over TCP and
over WebSocket (``/ws``), each with Noise and Yamux.

identify, ping, echo of 1 MiB, concurrent echo streams, an 8 MiB perf transfer each way (over
WebSocket too: our frames are as large as each write, up to 1 MiB), and the ``p2pstack ping``
command line against each peer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from p2pstack.compose import open_node
from p2pstack.host.service import Service
from p2pstack.protocols.echo import echo
from p2pstack.protocols.identify import identify
from p2pstack.protocols.perf import perf, perf_peer
from p2pstack.protocols.ping import ping
from p2pstack.transports.tcp import tcp
from p2pstack.transports.websocket import websocket
from tests.interop.checks import ONE_MIB, assert_peer_dialled, cli_ping, exchange, identified
from tests.interop.peers import Impl, peer_listening, run_dial

IMPLS = ["js", "py"]


@dataclass(frozen=True)
class Variant:
    """One transport under test."""

    name: Literal["tcp", "ws"]  # the ListeningPeer.addr() key
    listen: str
    streams: int  # concurrent echo streams
    perf: bool  # also run a perf transfer


VARIANTS = [
    Variant("tcp", "/ip4/127.0.0.1/tcp/0", streams=16, perf=True),
    Variant("ws", "/ip4/127.0.0.1/tcp/0/ws", streams=8, perf=True),
]
CASES = [pytest.param(impl, v, id=f"{impl}-{v.name}") for impl in IMPLS for v in VARIANTS]


@pytest.mark.parametrize(("impl", "variant"), CASES)
async def test_peer_dials_p2pstack(impl: Impl, variant: Variant) -> None:
    services: list[Service] = [ping(), identify(), echo()]
    if variant.perf:
        services.append(perf())
    async with open_node(
        listen=[variant.listen], transports=[tcp(), websocket()], protocols=services
    ) as node:
        addr = str(node.addrs[0])
        if variant.name == "ws":
            assert "/ws/p2p/" in addr
        result = await run_dial(
            impl, addr, ping=5, identify=True, echo=ONE_MIB, streams=variant.streams
        )
        info = assert_peer_dialled(result, node, pings=5, streams=variant.streams)
        assert any(a.startswith(str(node.listen_addrs[0])) for a in info["listen_addrs"])
        if variant.perf:
            figures = await run_dial(impl, addr, perf_upload=8 * ONE_MIB, perf_download=8 * ONE_MIB)
            assert figures["perf"]["upload_bytes"] == 8 * ONE_MIB
            assert figures["perf"]["download_bytes"] == 8 * ONE_MIB


@pytest.mark.parametrize(("impl", "variant"), CASES)
async def test_p2pstack_dials_peer(impl: Impl, variant: Variant) -> None:
    ident = identify()
    async with (
        peer_listening(impl, listen=[variant.listen]) as peer,
        open_node(transports=[tcp(), websocket()], protocols=[ping(), ident, echo()]) as node,
    ):
        conn = await node.dial(peer.addr(variant.name))
        assert str(conn.peer_id) == peer.peer_id
        assert conn.remote_addr.has_protocol("ws") == (variant.name == "ws")
        info = await identified(ident, conn, impl)
        if variant.name == "ws":
            assert any(a.has_protocol("ws") for a in info.listen_addrs)
        else:
            assert info.observed_addr is not None
            assert info.observed_addr.without_peer_id() == conn.local_addr

        await exchange(node, conn, pings=5, streams=variant.streams)
        if variant.perf:
            result = await perf_peer(node, conn, upload=8 * ONE_MIB, download=8 * ONE_MIB)
            assert result.upload_bytes == 8 * ONE_MIB
            assert result.download_bytes == 8 * ONE_MIB
        assert len(node.connections) == 1


@pytest.mark.parametrize(("impl", "variant"), CASES)
async def test_cli_ping_reaches_peer(impl: Impl, variant: Variant) -> None:
    async with peer_listening(impl, listen=[variant.listen]) as peer:
        report = await cli_ping(peer.addr(variant.name), count=3)
    assert report["peer_id"] == peer.peer_id
    assert len(report["rtts_ms"]) == 3
    assert report["connect_ms"] > 0
