"""Fault boundaries: an unexpected exception from below each boundary never ends the node.

Each test throws an exception type nothing expects (ZeroDivisionError, KeyError...) from
below one boundary and checks that the node records it (counter, FaultContained event),
closes only the smallest scope, and keeps serving.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from p2pstack.abc.transport import RawConnection, TransportListener
from p2pstack.compose import open_node
from p2pstack.errors import ConnectionDenied, DialError, StackError
from p2pstack.host.boundary import FaultContained, Faults, HandlerFailed
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.host.events import Event, EventBus
from p2pstack.host.gater import AllowAllConnections
from p2pstack.host.netstream import NetStream
from p2pstack.host.node import Node, NodeConfig
from p2pstack.identity import Identity, PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.role import Role
from p2pstack.security import SecureStream
from p2pstack.security.noise import noise
from p2pstack.transports.memory import MemoryNetwork, memory
from p2pstack.transports.tcp import TcpListener, TcpTransport, tcp

ADDR = "/memory/0"


@asynccontextmanager
async def pair(**server_kwargs: Any) -> AsyncIterator[tuple[Node, Node]]:
    network = MemoryNetwork()
    server_kwargs.setdefault("protocols", [ping()])
    async with (
        open_node(listen=[ADDR], transports=[memory(network)], **server_kwargs) as server,
        open_node(transports=[memory(network)], protocols=[ping()]) as client,
    ):
        yield server, client


async def next_fault(events: trio.MemoryReceiveChannel[Event]) -> FaultContained:
    with trio.fail_after(5):
        async for event in events:
            if isinstance(event, FaultContained):
                return event
    raise AssertionError("no FaultContained event")


async def still_serves(server: Node, client: Node) -> None:
    await client.hang_up(server.peer_id)
    assert len(await ping_peer(client, server.addrs[0], count=1)) == 1


async def test_stream_handler_bug_resets_only_that_stream() -> None:
    async def broken(stream: NetStream) -> None:
        raise ZeroDivisionError("handler bug")

    async with pair() as (server, client):
        server.set_stream_handler("/broken/1", broken)
        with server.events.subscribe() as events:

            async def use() -> None:
                stream = await client.new_stream(server.addrs[0], "/broken/1")
                await stream.send_all(b"x")
                await stream.receive_some()

            with pytest.raises(trio.BrokenResourceError):
                await use()
            fault = await next_fault(events)
        assert fault.boundary == "handler"
        assert not fault.expected
        assert fault.peer_id == client.peer_id
        assert server.faults.counts["handler", "ZeroDivisionError"] == 1
        assert len(await ping_peer(client, server.addrs[0], count=1)) == 1


async def test_handler_errors_raise_ends_the_node_with_handler_failed() -> None:
    async def broken(stream: NetStream) -> None:
        raise KeyError("user bug")

    config = NodeConfig(handler_errors="raise")
    with pytest.RaisesGroup(pytest.RaisesExc(HandlerFailed), flatten_subgroups=True):
        async with pair(config=config) as (server, client):
            server.set_stream_handler("/broken/1", broken)
            with contextlib.suppress(trio.BrokenResourceError):
                stream = await client.new_stream(server.addrs[0], "/broken/1")
                await stream.send_all(b"x")
            await trio.sleep_forever()


async def test_accept_survives_any_listener_error() -> None:
    class Flaky:
        """A listener whose accept fails with odd errors before working."""

        def __init__(self, inner: TransportListener) -> None:
            self.inner = inner
            self.errors: list[BaseException] = [
                OSError(errno.EMFILE, "too many files"),
                KeyError("listener bug"),
            ]

        @property
        def listen_addrs(self) -> list[Multiaddr]:
            return self.inner.listen_addrs

        async def accept(self) -> RawConnection:
            if self.errors:
                await trio.lowlevel.checkpoint()
                raise self.errors.pop(0)
            return await self.inner.accept()

        async def aclose(self) -> None:
            await self.inner.aclose()

    class FlakyTransport:
        name = "flaky-memory"

        def __init__(self, network: MemoryNetwork) -> None:
            self.inner = memory(network)

        def can_dial(self, addr: Multiaddr) -> bool:
            return self.inner.can_dial(addr)

        def can_listen(self, addr: Multiaddr) -> bool:
            return self.inner.can_listen(addr)

        async def dial(self, addr: Multiaddr) -> RawConnection:
            return await self.inner.dial(addr)

        async def listen(self, addr: Multiaddr) -> TransportListener:
            return Flaky(await self.inner.listen(addr))

    network = MemoryNetwork()
    async with (
        open_node(listen=[ADDR], transports=[FlakyTransport(network)]) as server,
        open_node(transports=[memory(network)]) as client,
    ):
        assert len(await ping_peer(client, server.addrs[0], count=1)) == 1
        assert server.faults.counts["accept", "OSError"] == 1
        assert server.faults.counts["accept", "KeyError"] == 1


async def test_tcp_accept_survives_a_socket_reset_before_getpeername(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: ENOTCONN from getpeername() (connect + RST before accept) killed nodes."""
    real = socket.socket.getpeername
    failures = [OSError(errno.ENOTCONN, "Transport endpoint is not connected")]

    def getpeername(sock: socket.socket) -> Any:
        if failures:
            raise failures.pop()
        return real(sock)

    monkeypatch.setattr(socket.socket, "getpeername", getpeername)
    transport = tcp()
    listener = await transport.listen(Multiaddr("/ip4/127.0.0.1/tcp/0"))
    assert isinstance(listener, TcpListener)
    port = int(listener.listen_addrs[0].components()[1].value or 0)
    async with trio.open_nursery() as nursery:
        got: list[RawConnection] = []

        async def accept() -> None:
            got.append(await listener.accept())

        nursery.start_soon(accept)
        first = await trio.open_tcp_stream("127.0.0.1", port)
        second = await trio.open_tcp_stream("127.0.0.1", port)
    assert not failures
    assert len(got) == 1
    await got[0].stream.aclose()
    await first.aclose()
    await second.aclose()
    await listener.aclose()
    assert isinstance(transport, TcpTransport)


async def test_connect_and_reset_loop_does_not_end_the_node() -> None:
    """Regression: connect + RST (SO_LINGER 0) in a loop ended any node."""
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[ping()]) as server,
        open_node(protocols=[ping()]) as client,
    ):
        port = int(server.addrs[0].components()[1].value or 0)
        linger = b"\x01\x00\x00\x00\x00\x00\x00\x00"
        for _ in range(200):
            sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            await sock.connect(("127.0.0.1", port))
            sock.close()
        assert len(await ping_peer(client, server.addrs[0], count=1)) == 1


async def test_gater_bug_at_accept_is_contained() -> None:
    class BrokenGater(AllowAllConnections):
        calls = 0

        def allow_accept(self, remote_addr: Multiaddr) -> bool:
            BrokenGater.calls += 1
            if BrokenGater.calls == 1:
                raise RuntimeError("gater bug")
            return True

    async with pair(gater=BrokenGater()) as (server, client):
        with pytest.raises(DialError):
            await client.dial(server.addrs[0])
        assert server.faults.counts["gater", "RuntimeError"] == 1
        assert len(await ping_peer(client, server.addrs[0], count=1)) == 1


class _BrokenSecurity:
    """Noise that fails with an unexpected exception type once, on one side."""

    def __init__(self, *, inbound: bool) -> None:
        self.inner = noise()
        self.inbound = inbound
        self.armed = True

    @property
    def protocol_id(self) -> str:
        return self.inner.protocol_id

    async def secure_outbound(
        self, stream: trio.abc.Stream, identity: Identity, expected_peer: PeerId | None = None
    ) -> SecureStream:
        if not self.inbound and self.armed:
            self.armed = False
            raise IndexError("decoder bug")
        return await self.inner.secure_outbound(stream, identity, expected_peer)

    async def secure_inbound(self, stream: trio.abc.Stream, identity: Identity) -> SecureStream:
        if self.inbound and self.armed:
            self.armed = False
            raise IndexError("decoder bug")
        return await self.inner.secure_inbound(stream, identity)


async def test_inbound_upgrade_bug_is_contained() -> None:
    async with pair(security=[_BrokenSecurity(inbound=True)]) as (server, client):
        with server.events.subscribe() as events:
            with pytest.raises(DialError):
                await client.dial(server.addrs[0])
            fault = await next_fault(events)
        assert fault.boundary == "inbound-connection"
        assert isinstance(fault.error, IndexError)
        assert len(await ping_peer(client, server.addrs[0], count=1)) == 1


async def test_outbound_upgrade_bug_fails_only_that_dial() -> None:
    network = MemoryNetwork()
    async with (
        open_node(listen=[ADDR], transports=[memory(network)]) as server,
        open_node(transports=[memory(network)], security=[_BrokenSecurity(inbound=False)]) as c,
    ):
        with pytest.raises(DialError, match="decoder bug"):
            await c.dial(server.addrs[0])
        assert c.faults.counts["dial", "IndexError"] == 1
        assert len(await ping_peer(c, server.addrs[0], count=1)) == 1


async def test_connection_task_bug_closes_only_that_connection() -> None:
    async with pair() as (server, client):
        conn = await client.dial(server.addrs[0])

        async def broken() -> None:
            await trio.lowlevel.checkpoint()
            raise ValueError("task bug")

        conn.spawn(broken)
        with trio.fail_after(5):
            await conn.wait_closed()
        assert client.faults.counts["connection-task", "ValueError"] == 1
        assert len(await ping_peer(client, server.addrs[0], count=1)) == 1


async def test_connection_callback_bug_is_contained() -> None:
    def broken(conn: Connection) -> None:
        raise AttributeError("callback bug")

    async with pair() as (server, client):
        server.add_connection_callback(broken)
        assert len(await ping_peer(client, server.addrs[0], count=1)) == 1
        assert server.faults.counts["connection-callback", "AttributeError"] == 1


async def test_muxer_bug_closes_the_connection_not_the_node() -> None:
    async with pair() as (server, client):
        conn = await client.dial(server.addrs[0])
        await ping_peer(client, conn, count=1)
        (inbound,) = server.connections

        async def explode() -> Any:
            raise ZeroDivisionError("muxer bug")

        inbound.session.accept_stream = explode  # type: ignore[method-assign]
        # the accept loop is parked inside the old accept_stream: a new stream wakes it
        # once, then it calls the broken one
        with contextlib.suppress(trio.BrokenResourceError, StackError):
            await ping_peer(client, conn, count=1)
        with trio.fail_after(5):
            await inbound.wait_closed()
        assert server.faults.counts["connection", "ZeroDivisionError"] == 1
        await still_serves(server, client)


async def test_node_task_bug_is_contained() -> None:
    async with pair() as (server, client):
        with server.events.subscribe() as events:

            async def broken() -> None:
                raise LookupError("background bug")

            server.spawn(broken)
            fault = await next_fault(events)
        assert fault.boundary == "task"
        await still_serves(server, client)


class _Service:
    def __init__(self, *, fail_before_start: bool) -> None:
        self.fail_before_start = fail_before_start
        self.go = trio.Event()

    async def serve(
        self, context: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        if self.fail_before_start:
            raise ValueError("bad service configuration")
        task_status.started()
        await self.go.wait()
        raise UnicodeError("service bug")


async def test_service_failing_after_start_is_contained() -> None:
    service = _Service(fail_before_start=False)
    async with pair(services=[service]) as (server, client):
        with server.events.subscribe() as events:
            service.go.set()
            fault = await next_fault(events)
        assert fault.boundary == "service:_Service"
        assert isinstance(fault.error, UnicodeError)
        assert len(await ping_peer(client, server.addrs[0], count=1)) == 1


async def test_service_failing_to_start_fails_open_node() -> None:
    with pytest.RaisesGroup(pytest.RaisesExc(ValueError), flatten_subgroups=True):
        async with open_node(services=[_Service(fail_before_start=True)]):
            pass


def test_a_flood_of_one_fault_logs_one_traceback(caplog: pytest.LogCaptureFixture) -> None:
    faults = Faults(EventBus())
    for _ in range(250):
        faults.record("stream", KeyError("bug"))
    faults.record("stream", trio.BrokenResourceError("peer reset"))
    assert faults.counts["stream", "KeyError"] == 250
    assert faults.counts["stream", "BrokenResourceError"] == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert sum(1 for r in errors if r.exc_info) == 1
    assert len(errors) == 101  # the first hundred, then every hundredth (200)
    assert faults.total == 251


@pytest.mark.parametrize("stage", ["accept", "secured", "upgraded"])
async def test_gater_raising_connection_denied_refuses_only_that_connection(stage: str) -> None:
    """A hook may raise ConnectionDenied instead of returning False (it used to end the
    listening node with an ExceptionGroup)."""

    class Raising(AllowAllConnections):
        armed = True

        def _deny(self, hook: str) -> bool:
            if hook == stage and Raising.armed:
                Raising.armed = False
                raise ConnectionDenied(f"{hook} says no", stage=hook)
            return True

        def allow_accept(self, remote_addr: Multiaddr) -> bool:
            return self._deny("accept")

        def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
            return self._deny("secured")

        def allow_upgraded(self, connection: Connection) -> bool:
            return self._deny("upgraded")

    async with pair(gater=Raising()) as (server, client):
        # refused at once: the refused connection is closed, not left to a timeout
        with (
            trio.fail_after(5),
            contextlib.suppress(DialError, trio.BrokenResourceError, StackError),
        ):
            await ping_peer(client, server.addrs[0], count=1)
        await client.hang_up(server.peer_id)
        assert len(await ping_peer(client, server.addrs[0], count=1)) == 1
        assert not Raising.armed
