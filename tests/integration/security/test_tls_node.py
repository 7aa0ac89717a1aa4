"""Nodes over TCP with libp2p TLS 1.3 (``/tls/1.0.0``): protocols, identify, negotiation."""

from __future__ import annotations

import os

import pytest

from p2pstack.compose import open_node
from p2pstack.errors import DialError
from p2pstack.identity import Identity, KeyType
from p2pstack.protocols.echo import echo_peer
from p2pstack.protocols.identify import identify
from p2pstack.protocols.perf import perf_peer
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.security import TlsConfig, noise, tls
from tests.helpers.nodes import LOOPBACK, full_protocols


@pytest.mark.parametrize("key_type", [KeyType.ED25519, KeyType.SECP256K1, KeyType.ECDSA])
async def test_ping_echo_perf_identify_over_tls(key_type: KeyType) -> None:
    client_identify = identify()
    async with (
        open_node(
            identity=Identity.generate(key_type),
            listen=[LOOPBACK],
            security=[tls()],
            protocols=full_protocols(),
        ) as server,
        open_node(security=[tls()], protocols=[ping(), client_identify]) as client,
    ):
        conn = await client.dial(server.addrs[0])
        assert conn.security_protocol == "/tls/1.0.0"
        info = await client_identify.wait_identified(conn)
        assert info is not None
        assert info.peer_id == server.peer_id
        assert len(await ping_peer(client, server.addrs[0], count=2)) == 2
        payload = os.urandom(300_000)
        assert await echo_peer(client, server.addrs[0], payload) == payload
        result = await perf_peer(client, server.addrs[0], upload=2 << 20, download=1 << 20)
        assert result.download_bytes == 1 << 20


async def test_security_is_negotiated_in_preference_order() -> None:
    async with open_node(listen=[LOOPBACK], security=[noise(), tls()]) as server:
        async with open_node(security=[tls(), noise()]) as client:
            conn = await client.dial(server.addrs[0])
            assert conn.security_protocol == "/tls/1.0.0"
        async with open_node(security=[noise()]) as client:
            conn = await client.dial(server.addrs[0])
            assert conn.security_protocol == "/noise"


async def test_no_common_security_protocol_fails_the_dial() -> None:
    async with (
        open_node(listen=[LOOPBACK], security=[noise()]) as server,
        open_node(security=[tls()]) as client,
    ):
        with pytest.raises(DialError):
            await client.dial(server.addrs[0])
        assert not client.connections


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="handshake_timeout"):
        TlsConfig(handshake_timeout=0)
    with pytest.raises(ValueError, match="receive_size"):
        TlsConfig(receive_size=10)
    assert tls(TlsConfig(handshake_timeout=1.5)).protocol_id == "/tls/1.0.0"
