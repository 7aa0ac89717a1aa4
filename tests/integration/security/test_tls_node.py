"""Nodes over TCP with libp2p TLS 1.3 (``/tls/1.0.0``): protocols, identify, negotiation."""

from __future__ import annotations

import os

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.errors import DialError
from p2pstack.identity import Identity, KeyType, PeerId
from p2pstack.protocols.echo import echo_peer
from p2pstack.protocols.identify import identify
from p2pstack.protocols.perf import perf_peer
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.security import TlsConfig, noise, tls
from p2pstack.security.tls import TlsStream, TlsTransport
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


YAMUX = "/yamux/1.0.0"


@pytest.mark.parametrize(
    ("client_muxers", "server_muxers", "early"),
    [
        ((YAMUX,), (YAMUX,), YAMUX),
        ((YAMUX,), (), None),
        ((), (YAMUX,), None),
        (("/mplex/6.7.0", YAMUX), (YAMUX,), YAMUX),
    ],
)
async def test_inlined_muxer_negotiation(
    client_muxers: tuple[str, ...], server_muxers: tuple[str, ...], early: str | None
) -> None:
    events: list[str | None] = []

    class Recording:
        """The TLS transport, noting what ALPN negotiated on each dial."""

        def __init__(self, config: TlsConfig) -> None:
            self.inner = TlsTransport(config)
            self.protocol_id = self.inner.protocol_id

        async def secure_outbound(
            self, stream: trio.abc.Stream, identity: Identity, expected_peer: PeerId | None
        ) -> TlsStream:
            secure = await self.inner.secure_outbound(stream, identity, expected_peer)
            events.append(secure.early_muxer)
            return secure

        async def secure_inbound(self, stream: trio.abc.Stream, identity: Identity) -> TlsStream:
            return await self.inner.secure_inbound(stream, identity)

    server_tls = tls(TlsConfig(muxers=server_muxers))
    async with (
        open_node(listen=[LOOPBACK], security=[server_tls], protocols=full_protocols()) as server,
        open_node(security=[Recording(TlsConfig(muxers=client_muxers))]) as client,
    ):
        conn = await client.dial(server.addrs[0])
        assert conn.muxer_protocol == YAMUX
        assert events == [early]
        assert len(await ping_peer(client, conn, count=2)) == 2
        payload = os.urandom(100_000)
        assert await echo_peer(client, conn, payload) == payload


def test_muxers_must_be_protocol_ids() -> None:
    with pytest.raises(ValueError, match="muxers"):
        TlsConfig(muxers=("yamux",))
    assert TlsConfig(muxers=[YAMUX]).muxers == (YAMUX,)  # type: ignore[arg-type]
