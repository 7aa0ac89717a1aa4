"""Nodes over QUIC: mixed with TCP, the dialler's QUIC preference, identify, echo, limits,
the CLI."""

from __future__ import annotations

import json
import os

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.errors import DialError
from p2pstack.host.config import NodeConfig
from p2pstack.host.node import Node
from p2pstack.identity import Identity, PeerId
from p2pstack.protocols.echo import echo, echo_peer
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.transports.quic import QuicConfig, QuicSession, quic
from p2pstack.transports.tcp import tcp
from tests.helpers import running_p2pstack, wait_until
from tests.helpers.cli import run_p2pstack, running_node

QUIC_LISTEN = "/ip4/127.0.0.1/udp/0/quic-v1"


def _protocols_of(node: Node, peer: PeerId) -> tuple[str, ...]:
    info = node.peerstore.info(peer)
    return () if info is None else info.protocols


async def test_node_serves_quic_and_tcp_at_once() -> None:
    async with (
        open_node(
            listen=["/ip4/127.0.0.1/tcp/0", QUIC_LISTEN],
            transports=[tcp(), quic()],
            protocols=[ping(), identify(), echo()],
        ) as server,
        open_node(transports=[quic()], protocols=[ping(), identify(), echo()]) as client,
    ):
        quic_addr = next(a for a in server.addrs if a.has_protocol("quic-v1"))
        conn = await client.dial(quic_addr)
        assert conn.peer_id == server.peer_id
        assert conn.remote_addr == quic_addr.without_peer_id()
        assert (conn.security_protocol, conn.muxer_protocol) == ("/tls/1.0.0", "quic-v1")
        assert isinstance(conn.session, QuicSession)
        assert len(await ping_peer(client, conn, count=3)) == 3
        payload = os.urandom(500_000)
        assert await echo_peer(client, conn, payload) == payload
        await wait_until(lambda: "/echo/1.0.0" in _protocols_of(client, server.peer_id))
        inbound = server.connection_to(client.peer_id)
        assert inbound is not None
        assert inbound.remote_addr.has_protocol("quic-v1")


@pytest.mark.parametrize("prefer_quic", [True, False])
async def test_the_dialler_prefers_quic_only_when_configured(prefer_quic: bool) -> None:
    async with (
        open_node(
            listen=["/ip4/127.0.0.1/tcp/0", QUIC_LISTEN], transports=[tcp(), quic()]
        ) as server,
        open_node(transports=[tcp(), quic()], config=NodeConfig(prefer_quic=prefer_quic)) as client,
    ):
        # the peer store's order is the opposite of the preference under test
        order = sorted(server.addrs, key=lambda a: a.has_protocol("quic-v1") == prefer_quic)
        client.peerstore.add_addrs(server.peer_id, order)
        conn = await client.dial(server.peer_id)
        assert conn.remote_addr.has_protocol("quic-v1") is prefer_quic


async def test_a_dial_to_the_wrong_peer_id_fails() -> None:
    async with (
        open_node(listen=[QUIC_LISTEN], transports=[quic()]) as server,
        open_node(transports=[quic()]) as client,
    ):
        wrong = server.listen_addrs[0].with_peer_id(Identity.generate().peer_id)
        with pytest.raises(DialError, match="but the remote authenticated as"):
            await client.dial(wrong)
        assert client.connections == []


async def test_closing_a_connection_reaches_the_peer() -> None:
    config = QuicConfig(keepalive_interval=0.3, idle_timeout=1.0)
    async with (
        open_node(listen=[QUIC_LISTEN], transports=[quic(config)]) as server,
        open_node(transports=[quic(config)]) as client,
    ):
        conn = await client.dial(server.addrs[0])
        await wait_until(lambda: server.connection_to(client.peer_id) is not None)
        await trio.sleep(1.5)  # beyond the idle timeout: the keepalive holds it open
        assert not conn.is_closed
        await conn.aclose()
        await wait_until(lambda: server.connection_to(client.peer_id) is None)


async def test_the_connection_window_is_reserved_from_the_budget() -> None:
    window = 1024 * 1024
    config = QuicConfig(stream_window=window // 4, connection_window=window)
    async with (
        open_node(listen=[QUIC_LISTEN], transports=[quic(config)]) as server,
        open_node(transports=[quic(config)]) as client,
    ):
        conn = await client.dial(server.addrs[0])
        assert conn.scope.memory >= window
        assert client.resources.system.memory >= window
        await conn.aclose()
        await wait_until(lambda: client.resources.system.memory < window)


async def test_cli_node_listens_on_quic_and_cli_pings_and_perfs_it() -> None:
    async with running_node("--listen", QUIC_LISTEN, "--perf") as info:
        (addr,) = info["listen_addrs"]
        assert "/udp/" in addr
        assert "/quic-v1/p2p/" in addr
        result = await run_p2pstack("ping", addr, "--count", "2", "--json")
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout.splitlines()[-1])
        assert answer["peer_id"] == info["peer_id"]
        assert len(answer["rtts_ms"]) == 2
        result = await run_p2pstack("perf", addr, "--upload", "256K", "--download", "256K")
        assert result.returncode == 0, result.stderr
        assert "upload" in result.stdout
        assert "download" in result.stdout


async def test_cli_relay_on_quic_and_tls_carries_a_relayed_ping() -> None:
    """``p2pstack relay`` listens on QUIC (its TLS inside) and on TCP with ``--security tls``;
    a node listens through the relay over QUIC, and a TLS-only client pings it relayed."""
    async with (
        running_p2pstack(
            "relay",
            "--listen",
            QUIC_LISTEN,
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--security",
            "tls",
        ) as relay,  # fmt: skip
    ):
        quic_relay = next(a for a in relay.info["listen_addrs"] if "/quic-v1/" in a)
        async with running_p2pstack("node", "--relay-via", quic_relay, "--security", "tls") as node:
            circuit = next(a for a in node.info["listen_addrs"] if "/p2p-circuit" in a)
            assert circuit.startswith(quic_relay)
            tcp_relay = next(a for a in relay.info["listen_addrs"] if "/tcp/" in a)
            via_tcp = circuit.replace(quic_relay, tcp_relay)
            result = await run_p2pstack(
                "ping", via_tcp, "--count", "2", "--json", "--security", "tls"
            )
            assert result.returncode == 0, result.stderr
            answer = json.loads(result.stdout.splitlines()[-1])
            assert answer["peer_id"] == node.info["peer_id"]
            assert len(answer["rtts_ms"]) == 2
