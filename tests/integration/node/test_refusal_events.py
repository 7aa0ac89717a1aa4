"""Refusals, dial failures and listener changes are events, with the details code needs."""

from __future__ import annotations

import pytest
import trio

from p2pstack.abc.transport import RawConnection
from p2pstack.compose import open_node
from p2pstack.errors import DialError
from p2pstack.host.config import NodeConfig
from p2pstack.host.connection import Connection
from p2pstack.host.dialer import RemoteClosed
from p2pstack.host.events import (
    ConnectionRefused,
    DialFailed,
    Event,
    InboundUpgradeFailed,
    ListenAddrRemoved,
    ListenerClosed,
    ListenerError,
)
from p2pstack.host.gater import Gater
from p2pstack.host.limits import ConnectionLimits
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.role import Role

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


class _Refuse(Gater):
    def __init__(self, stage: str) -> None:
        self.stage = stage

    def allow_dial(self, peer: PeerId | None, addr: Multiaddr) -> bool:
        return self.stage != "dial"

    def allow_accept(self, remote_addr: Multiaddr) -> bool:
        return self.stage != "accept"

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        return self.stage != "secured"

    def allow_upgraded(self, connection: Connection) -> bool:
        return self.stage != "upgraded"


async def _next(events: trio.MemoryReceiveChannel[Event], kind: type[Event]) -> Event:
    with trio.fail_after(5):
        async for event in events:
            if isinstance(event, kind):
                return event
    raise AssertionError("the event bus closed")


@pytest.mark.parametrize("stage", ["accept", "secured", "upgraded"])
async def test_inbound_refusal_is_published_on_the_refusing_side(stage: str) -> None:
    async with (
        open_node(listen=[LOOPBACK], gater=_Refuse(stage)) as server,
        open_node() as client,
    ):
        with server.events.subscribe() as events:
            if stage == "accept":  # refused before the dialler's upgrade finished
                with pytest.raises(DialError) as info:
                    await client.dial(server.addrs[0])
                dial_error: DialError | None = info.value
            else:  # the dialler's 0-RTT upgrade finished: the connection then closes
                dial_error = None
                conn = await client.dial(server.addrs[0])
                await conn.wait_closed()
            event = await _next(events, ConnectionRefused)
    if dial_error is not None:
        assert "closed by the remote during the upgrade" in str(dial_error)
        assert isinstance(dial_error.attempts[0][1], RemoteClosed)
    assert isinstance(event, ConnectionRefused)
    assert (event.reason, event.stage, event.role) == ("gater", stage, Role.RESPONDER)
    assert event.message.startswith("gater refused")
    assert "127.0.0.1" in str(event.remote_addr)
    assert event.peer_id == (None if stage == "accept" else client.peer_id)


async def test_outbound_gater_refusal_and_dial_failure_are_published() -> None:
    async with (
        open_node(listen=[LOOPBACK]) as server,
        open_node(gater=_Refuse("dial")) as client,
    ):
        target = server.addrs[0]
        with client.events.subscribe() as events:
            with pytest.raises(DialError):
                await client.dial(server.addrs[0])
            refusal = await _next(events, ConnectionRefused)
            failure = await _next(events, DialFailed)
    assert isinstance(refusal, ConnectionRefused)
    assert (refusal.reason, refusal.stage, refusal.role) == ("gater", "dial", Role.INITIATOR)
    assert refusal.peer_id == server.peer_id
    assert isinstance(failure, DialFailed)
    assert failure.peer_id == server.peer_id
    assert [addr for addr, _ in failure.attempts] == [str(target)]
    assert failure.attempts[0][1].startswith("ConnectionDenied: gater refused dialling")


async def test_dial_failed_lists_every_address_tried() -> None:
    async with open_node() as client:
        peer = PeerId.from_string("12D3KooWQY7x7wnrYwoJgqb3nZ3LpiySgitdwoJ8cxB47sEtYnES")
        dead = [Multiaddr("/ip4/127.0.0.1/tcp/1"), Multiaddr("/ip4/127.0.0.1/tcp/2")]
        client.peerstore.add_addrs(peer, dead)
        with client.events.subscribe() as events:
            with pytest.raises(DialError) as info:
                await client.dial(peer)
            failure = await _next(events, DialFailed)
    assert isinstance(failure, DialFailed)
    assert failure.message == str(info.value)
    assert sorted(addr for addr, _ in failure.attempts) == sorted(
        str(a.with_peer_id(peer)) for a in dead
    )


async def test_a_connection_limit_refusal_names_the_limit() -> None:
    config = NodeConfig(limits=ConnectionLimits(max_inbound=1))
    async with (
        open_node(listen=[LOOPBACK], config=config) as server,
        open_node() as first,
        open_node() as client,
    ):
        await first.dial(server.addrs[0])
        with server.events.subscribe() as events:
            with pytest.raises(DialError):  # refused at the accept
                await client.dial(server.addrs[0])
            event = await _next(events, ConnectionRefused)
    assert isinstance(event, ConnectionRefused)
    assert event.reason == "limit"
    assert event.stage == "connections.inbound"
    assert "connections.inbound" in event.message


async def test_a_failed_inbound_upgrade_is_published() -> None:
    async with open_node(listen=[LOOPBACK]) as server:
        port = int(str(server.listen_addrs[0]).rsplit("/", 1)[1])
        with server.events.subscribe() as events:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(b"\x13not multistream at all\n")
            event = await _next(events, InboundUpgradeFailed)
            await stream.aclose()
    assert isinstance(event, InboundUpgradeFailed)
    assert "127.0.0.1" in str(event.remote_addr)


async def test_unlisten_closes_the_listener_and_publishes_it() -> None:
    async with open_node(listen=[LOOPBACK]) as server, open_node() as client:
        bound = server.listen_addrs[0]
        with server.events.subscribe() as events:
            assert await server.unlisten(bound)
            removed = await _next(events, ListenAddrRemoved)
            closed = await _next(events, ListenerClosed)
        assert not await server.unlisten(bound)
        assert server.listen_addrs == []
        with pytest.raises(DialError):
            await client.dial(bound.with_peer_id(server.peer_id))
    assert isinstance(removed, ListenAddrRemoved)
    assert removed.addr == bound
    assert isinstance(closed, ListenerClosed)
    assert closed.addrs == (bound,)
    assert closed.cause is None


class _FailingListener:
    """Fails one accept with OSError (fd exhaustion), then breaks for good."""

    def __init__(self, addr: Multiaddr) -> None:
        self.addr = addr
        self.accepts = 0

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        return [self.addr]

    async def accept(self) -> RawConnection:
        self.accepts += 1
        await trio.lowlevel.checkpoint()
        if self.accepts == 1:
            raise OSError(24, "Too many open files")
        raise trio.BrokenResourceError("the socket is gone")

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


class _FailingTransport:
    name = "failing"

    def can_dial(self, addr: Multiaddr) -> bool:
        return False

    def can_listen(self, addr: Multiaddr) -> bool:
        return addr.has_protocol("memory")

    async def dial(self, addr: Multiaddr) -> RawConnection:
        raise AssertionError("not dialled")

    async def listen(self, addr: Multiaddr) -> _FailingListener:
        return _FailingListener(addr)


async def test_listener_errors_and_a_listener_ending_by_itself_are_published() -> None:
    async with open_node(transports=[_FailingTransport()]) as node:
        with node.events.subscribe() as events:
            (bound,) = await node.listen("/memory/7")
            error = await _next(events, ListenerError)
            closed = await _next(events, ListenerClosed)
        assert node.listen_addrs == []
    assert isinstance(error, ListenerError)
    assert error.addrs == (bound,)
    assert isinstance(error.error, OSError)
    assert isinstance(closed, ListenerClosed)
    assert isinstance(closed.cause, trio.BrokenResourceError)
