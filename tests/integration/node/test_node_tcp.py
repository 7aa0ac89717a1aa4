"""Two or more nodes over real TCP on 127.0.0.1: dialling, reuse, protocols, events."""

from __future__ import annotations

import os

import pytest
import trio

from p2pstack.abc.muxer import MuxedSession
from p2pstack.compose import open_node
from p2pstack.errors import DialError, NegotiationFailed, PeerIdMismatch, StackError
from p2pstack.host.events import ConnectionClosed, ConnectionOpened, StreamOpened
from p2pstack.host.netstream import NetStream
from p2pstack.host.resources import MemoryBudget
from p2pstack.identity import Identity
from p2pstack.muxers.yamux import ConnectionLost, yamux
from p2pstack.protocols.echo import echo_peer
from p2pstack.protocols.identify import IDENTIFY_PROTOCOL, identify
from p2pstack.protocols.perf import perf_peer
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.role import Role
from tests.helpers.nodes import full_protocols, tcp_node


async def test_ping_echo_perf_over_tcp() -> None:
    async with tcp_node() as server, tcp_node(listen=False) as client:
        rtts = await ping_peer(client, server.addrs[0], count=3)
        assert len(rtts) == 3
        assert all(r > 0 for r in rtts)
        payload = os.urandom(1 << 20)
        assert await echo_peer(client, server.addrs[0], payload) == payload
        result = await perf_peer(client, server.addrs[0], upload=4 << 20, download=2 << 20)
        assert result.upload_bytes == 4 << 20
        assert result.download_bytes == 2 << 20
        assert result.upload_mb_s > 0
        assert len(client.connections) == 1


async def test_identify_reports_protocols_and_observed_address() -> None:
    client_identify = identify()
    async with tcp_node() as server, tcp_node([ping(), client_identify], listen=False) as client:
        conn = await client.dial(server.addrs[0])
        info = await client_identify.wait_identified(conn)
        assert info is not None
        assert info.peer_id == server.peer_id
        assert IDENTIFY_PROTOCOL in info.protocols
        assert "/echo/1.0.0" in info.protocols
        assert info.listen_addrs == tuple(server.listen_addrs)
        assert info.observed_addr == conn.local_addr
        assert info.agent_version.startswith("p2pstack")
        assert client.peerstore.addrs(server.peer_id) == list(server.listen_addrs)


async def test_connection_is_reused_and_concurrent_dials_share_one() -> None:
    async with tcp_node() as server, tcp_node(listen=False) as client:
        conns = []

        async def dial() -> None:
            conns.append(await client.dial(server.addrs[0]))

        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(dial)
        assert len({c.id for c in conns}) == 1
        assert await client.dial(server.peer_id) is conns[0]
        await ping_peer(client, conns[0])  # the server has finished its side of the upgrade
        assert len(server.connections) == 1


async def test_wrong_peer_id_is_refused() -> None:
    async with tcp_node() as server, tcp_node(listen=False) as client:
        impostor = Identity.generate().peer_id
        addr = server.listen_addrs[0].with_peer_id(impostor)
        with pytest.raises(DialError) as info:
            await client.dial(addr)
        assert isinstance(info.value.attempts[0][1], PeerIdMismatch)
        assert client.connections == []


async def test_unsupported_protocol_is_a_typed_error_and_connection_survives() -> None:
    async with tcp_node() as server, tcp_node(listen=False) as client:
        with pytest.raises(NegotiationFailed):
            await client.new_stream(server.addrs[0], "/nope/1.0.0")
        assert len(await ping_peer(client, server.addrs[0])) == 1


async def test_custom_handler_and_events() -> None:
    async with tcp_node() as server, tcp_node(listen=False) as client:

        async def upper(stream: NetStream) -> None:
            data = await stream.receive_until_eof(1024)
            await stream.send_all(data.upper())

        server.set_stream_handler("/upper/1.0.0", upper)
        with server.events.subscribe() as events:
            stream = await client.new_stream(server.addrs[0], "/upper/1.0.0")
            await stream.send_all(b"shout")
            await stream.send_eof()
            assert await stream.receive_until_eof(1024) == b"SHOUT"
            await stream.aclose()
            seen = []
            with trio.fail_after(5):
                async for event in events:
                    seen.append(event)
                    if isinstance(event, StreamOpened) and event.protocol == "/upper/1.0.0":
                        break
            assert isinstance(seen[0], ConnectionOpened)
            assert seen[0].peer_id == client.peer_id
            await client.hang_up(server.peer_id)
            with trio.fail_after(5):
                async for event in events:
                    if isinstance(event, ConnectionClosed):
                        assert event.peer_id == client.peer_id
                        break


async def test_failing_handler_resets_only_its_stream() -> None:
    async with tcp_node() as server, tcp_node(listen=False) as client:

        async def broken(stream: NetStream) -> None:
            raise RuntimeError("handler bug")

        server.set_stream_handler("/broken/1.0.0", broken)

        async def open_and_drain() -> None:
            # The reset may overtake the negotiation answer or arrive after it.
            await _drain(await client.new_stream(server.addrs[0], "/broken/1.0.0"))

        with pytest.raises(trio.BrokenResourceError):
            await open_and_drain()
        assert len(await ping_peer(client, server.addrs[0])) == 1


async def _drain(stream: NetStream) -> None:
    while await stream.receive_some():
        pass


async def test_garbage_connection_does_not_disturb_others() -> None:
    async with tcp_node() as server, tcp_node(listen=False) as client:
        host, port = "127.0.0.1", int(server.listen_addrs[0].value_for("tcp") or 0)
        junk = await trio.open_tcp_stream(host, port)
        await junk.send_all(b"\x13/multistream/1.0.0\n\x07/noise\n" + os.urandom(300))
        other = await trio.open_tcp_stream(host, port)
        await other.send_all(b"GET / HTTP/1.1\r\n\r\n" * 10)
        assert len(await ping_peer(client, server.addrs[0], count=2)) == 2
        with trio.fail_after(5):  # the HTTP speaker is disconnected promptly
            while await _receive_or_empty(other):
                pass
        await junk.aclose()
        await other.aclose()
        assert len(await ping_peer(client, server.addrs[0])) == 1


async def _receive_or_empty(stream: trio.SocketStream) -> bytes:
    try:
        return await stream.receive_some()
    except trio.BrokenResourceError:
        return b""


async def test_many_nodes_star() -> None:
    async with tcp_node() as hub:
        async with trio.open_nursery() as nursery:
            for _ in range(6):

                async def spoke() -> None:
                    async with tcp_node(full_protocols(), listen=False) as node:
                        await ping_peer(node, hub.addrs[0], count=2)

                nursery.start_soon(spoke)
        with trio.fail_after(5):
            while hub.connections:
                await hub.connections[0].wait_closed()


class _RenamedYamux:
    """Yamux offered under another protocol id: a listener without /yamux/1.0.0."""

    protocol_id = "/not-yamux/1.0.0"

    def new_session(
        self, stream: trio.abc.Stream, *, role: Role, memory: MemoryBudget | None = None
    ) -> MuxedSession:
        return yamux().new_session(stream, role=role, memory=memory)


async def test_refused_muxer_fails_the_connection_with_negotiation_failed() -> None:
    """The dialer selects its only muxer lazily: a refusal arrives as the session's first read
    and ends the connection with NegotiationFailed as the reason."""
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], muxers=[_RenamedYamux()]) as server,
        tcp_node(listen=False) as client,
    ):
        with trio.fail_after(10):
            conn = await client.dial(server.addrs[0])
            await conn.wait_closed()
        reason = conn.session.close_reason
        assert isinstance(reason, ConnectionLost)
        assert isinstance(reason.__cause__, NegotiationFailed)
        assert "supports none of ['/yamux/1.0.0']" in str(reason)
        with pytest.raises(StackError):
            await client.new_stream(conn, "/ipfs/ping/1.0.0")
