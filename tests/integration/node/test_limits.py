"""Connection and stream limits and the gater: each refusal is typed and others keep working."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from p2pstack.compose import open_node
from p2pstack.errors import ConnectionDenied, DialError, InvalidConfigError, LimitExceeded
from p2pstack.host.connection import Connection
from p2pstack.host.gater import Gater
from p2pstack.host.limits import ConnectionLimits, ProtocolLimit
from p2pstack.host.netstream import NetStream
from p2pstack.host.node import NodeConfig
from p2pstack.identity import Identity, PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.ping import PING_PROTOCOL, ping, ping_peer
from p2pstack.role import Role
from tests.helpers.nodes import node_pair

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def _config(**limits: object) -> NodeConfig:
    return NodeConfig(limits=ConnectionLimits(**limits))  # type: ignore[arg-type]


async def test_inbound_connection_limit_refuses_extra_and_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "p2pstack")
    async with (
        open_node(listen=[LOOPBACK], protocols=[ping()], config=_config(max_inbound=1)) as server,
        open_node(protocols=[ping()]) as first,
        open_node(protocols=[ping()]) as second,
    ):
        await ping_peer(first, server.addrs[0])
        with pytest.raises((DialError, trio.BrokenResourceError)):
            await ping_peer(second, server.addrs[0])
        assert "connections.inbound" in caplog.text
        assert len(await ping_peer(first, server.addrs[0], count=2)) == 2


async def test_outbound_stream_limit_is_local_and_typed() -> None:
    async with (
        open_node(listen=[LOOPBACK], protocols=[ping()]) as server,
        open_node(protocols=[ping()], config=_config(max_outbound_streams=1)) as client,
    ):
        conn = await client.dial(server.addrs[0])
        held = await conn.new_stream(PING_PROTOCOL)
        with pytest.raises(LimitExceeded) as info:
            await conn.new_stream(PING_PROTOCOL)
        assert info.value.limit == "streams.outbound"
        assert info.value.local is True
        await held.aclose()
        assert len(await ping_peer(client, conn)) == 1


async def test_inbound_protocol_stream_limit_resets_only_the_extra_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "p2pstack")
    limits = {"protocols": {PING_PROTOCOL: ProtocolLimit(inbound=1, outbound=10)}}
    async with (
        open_node(listen=[LOOPBACK], protocols=[ping()], config=_config(**limits)) as server,
        open_node(protocols=[ping()]) as client,
    ):
        conn = await client.dial(server.addrs[0])
        first = await conn.new_stream(PING_PROTOCOL)
        await first.send_all(b"x" * 32)
        assert await first.receive_exactly(32) == b"x" * 32

        async def second_ping() -> None:
            # the server negotiates, sees the limit and resets: the reset may come at any step
            second = await conn.new_stream(PING_PROTOCOL)
            try:
                await second.send_all(b"y" * 32)
                await second.receive_exactly(32)
            finally:
                await second.aclose()

        with pytest.raises(trio.BrokenResourceError):
            await second_ping()
        assert f"streams.protocol.{PING_PROTOCOL}.inbound" in caplog.text
        kind = ("connection", f"streams.protocol.{PING_PROTOCOL}.inbound")
        assert server.resources.refusals[kind] == 1
        await first.send_all(b"z" * 32)
        assert await first.receive_exactly(32) == b"z" * 32
        await first.aclose()
        assert len(await ping_peer(client, conn)) == 1


class _DenyPeer(Gater):
    def __init__(self) -> None:
        self.denied: PeerId | None = None
        self.stages: list[str] = []

    def allow_dial(self, peer: PeerId | None, addr: Multiaddr) -> bool:
        self.stages.append("dial")
        return "/tcp/1/" not in str(addr) + "/"

    def allow_accept(self, remote_addr: Multiaddr) -> bool:
        self.stages.append("accept")
        return True

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        self.stages.append("secured")
        return peer != self.denied

    def allow_upgraded(self, connection: Connection) -> bool:
        self.stages.append("upgraded")
        return True


async def test_gater_hooks_refuse_by_peer_and_address() -> None:
    gater = _DenyPeer()
    async with (
        open_node(listen=[LOOPBACK], protocols=[ping()], gater=gater) as server,
        open_node(protocols=[ping()]) as banned,
        open_node(protocols=[ping()]) as friend,
    ):
        gater.denied = banned.peer_id
        with pytest.raises((DialError, trio.BrokenResourceError)):
            await ping_peer(banned, server.addrs[0])
        assert len(await ping_peer(friend, server.addrs[0])) == 1
        assert {"accept", "secured", "upgraded"} <= set(gater.stages)
        with pytest.raises(DialError) as info:
            await server.dial(Multiaddr(f"/ip4/127.0.0.1/tcp/1/p2p/{Identity.generate().peer_id}"))
        denied = info.value.attempts[0][1]
        assert isinstance(denied, ConnectionDenied)
        assert denied.stage == "dial"


async def test_stream_counts_drop_when_handlers_finish() -> None:
    async with node_pair([ping()], [ping()], connect=False) as (server, client):

        async def hold(stream: NetStream) -> None:
            await stream.receive_until_eof(16)

        server.set_stream_handler("/hold/1.0.0", hold)
        conn = await client.dial(server.addrs[0])
        streams = [await conn.new_stream("/hold/1.0.0") for _ in range(3)]
        assert conn.streams_of("/hold/1.0.0", role=Role.INITIATOR) == 3
        for stream in streams:
            await stream.send_eof()
            await stream.aclose()
        assert conn.streams_of("/hold/1.0.0", role=Role.INITIATOR) == 0
        server_conn = server.connection_to(client.peer_id)
        assert server_conn is not None
        await trio.testing.wait_all_tasks_blocked()
        assert server_conn.streams_of("/hold/1.0.0", role=Role.RESPONDER) == 0


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(InvalidConfigError):
        ConnectionLimits(max_inbound=0)
    with pytest.raises(InvalidConfigError):
        ProtocolLimit(inbound=-1, outbound=0)
    with pytest.raises(InvalidConfigError):
        NodeConfig(idle_timeout=0)
