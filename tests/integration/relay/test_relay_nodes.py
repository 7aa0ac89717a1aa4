"""Three p2pstack nodes: a relay, a listener behind it, and a dialer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from p2pstack.abc.transport import Transport
from p2pstack.compose import open_node
from p2pstack.errors import DialError, LimitExceeded, NegotiationFailed, TransportError
from p2pstack.host.netstream import NetStream
from p2pstack.host.node import Node, NodeConfig
from p2pstack.host.resources import MemoryLimits
from p2pstack.host.service import Service
from p2pstack.identity import Identity
from p2pstack.protocols.identify import identify
from p2pstack.protocols.perf import perf, perf_peer
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.protocols.relay import (
    AutoRelayConfig,
    CircuitRelayTransport,
    RelayConfig,
    RelayRefused,
    RelayService,
    Status,
    auto_relay,
    circuit_relay,
    relay_server,
)
from p2pstack.transports.memory import MemoryNetwork, memory

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
ECHO = "/echo/1.0.0"


async def echo_handler(stream: NetStream) -> None:
    while data := await stream.receive_some():
        await stream.send_all(data)
    await stream.send_eof()


def relay_transport(node: Node) -> CircuitRelayTransport:
    return next(t for t in node.transports if isinstance(t, CircuitRelayTransport))


@asynccontextmanager
async def relay_node(
    config: RelayConfig | None = None,
    *,
    network: MemoryNetwork | None = None,
    identity: Identity | None = None,
    listen: str | None = None,
    node_config: NodeConfig | None = None,
) -> AsyncIterator[tuple[Node, RelayService]]:
    service = relay_server(config)
    transports: list[Transport] | None = (
        [memory(network), circuit_relay()] if network is not None else None
    )
    async with open_node(
        identity=identity,
        transports=transports,
        listen=[listen or ("/memory/0" if network is not None else LOOPBACK)],
        services=[service],
        config=node_config,
    ) as node:
        yield node, service


@asynccontextmanager
async def plain_node(
    network: MemoryNetwork | None = None, services: Sequence[Service] = ()
) -> AsyncIterator[Node]:
    transports: list[Transport] | None = (
        [memory(network), circuit_relay()] if network is not None else None
    )
    async with open_node(transports=transports, services=services) as node:
        yield node


def circuit_addr(node: Node) -> str:
    return str(next(a for a in node.addrs if a.has_protocol("p2p-circuit")))


async def wait_until(predicate: Callable[[], bool], seconds: float, step: float = 0.1) -> None:
    for _ in range(int(seconds / step)):
        if predicate():
            return
        await trio.sleep(step)
    raise AssertionError(f"condition not met within {seconds} s")


async def echo_rounds(stream: NetStream, rounds: int, size: int = 4096) -> None:
    for _ in range(rounds):
        await stream.send_all(bytes(size))
        await stream.receive_exactly(size)


def cause_chain(error: BaseException | None) -> list[BaseException]:
    out: list[BaseException] = []
    while error is not None and error not in out:
        out.append(error)
        error = error.__cause__ or error.__context__
    return out


def limit_in(error: BaseException | None) -> LimitExceeded:
    found = [e for e in cause_chain(error) if isinstance(e, LimitExceeded)]
    assert found, repr(error)
    return found[0]


async def test_listen_and_dial_through_relay() -> None:
    async with relay_node() as (relay, service), plain_node() as listener, plain_node() as dialer:
        addrs = await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        assert addrs == [relay.addrs[0].encapsulate("/p2p-circuit")]
        target = circuit_addr(listener)
        assert target == f"{relay.addrs[0]}/p2p-circuit/p2p/{listener.peer_id}"
        conn = await dialer.dial(target)
        assert conn.peer_id == listener.peer_id
        assert conn.limited
        assert len(await ping_peer(dialer, conn, count=3)) == 3
        assert service.metrics.circuits_opened == 1
        assert service.metrics.active_reservations == 1
        # Limited connections: protocols must opt in, on both ends.
        listener.set_stream_handler(ECHO, echo_handler)
        with pytest.raises(LimitExceeded) as refused:
            await conn.new_stream(ECHO)
        assert refused.value.limit == "connection.limited"
        with pytest.raises(NegotiationFailed):
            await conn.new_stream(ECHO, allow_limited=True)
        listener.set_stream_handler(ECHO, echo_handler, allow_limited=True)
        stream = await conn.new_stream(ECHO, allow_limited=True)
        await stream.send_all(b"hello")
        assert await stream.receive_exactly(5) == b"hello"
        await stream.aclose()


async def test_circuit_beyond_the_relay_memory_budget_is_refused() -> None:
    budget = NodeConfig(memory=MemoryLimits(services={"relay": 100 * 1024}))
    async with (
        relay_node(node_config=budget) as (relay, service),
        plain_node() as listener,
        plain_node() as dialer,
    ):
        await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        with pytest.raises(DialError) as info:
            await dialer.dial(circuit_addr(listener))
        refused = [e for _, e in info.value.attempts if isinstance(e, RelayRefused)]
        assert refused[0].status == Status.RESOURCE_LIMIT_EXCEEDED
        assert service.metrics.refusals["MEMORY"] == 1
        assert relay.resources.refusals["service", "memory"] == 1
        assert relay.resources.service_scope("relay").memory == 0


async def test_connect_without_reservation_is_refused() -> None:
    nobody = Identity.generate().peer_id
    async with relay_node() as (relay, service), plain_node() as dialer:
        with pytest.raises(DialError) as info:
            await dialer.dial(f"{relay.addrs[0]}/p2p-circuit/p2p/{nobody}")
        refused = [e for _, e in info.value.attempts if isinstance(e, RelayRefused)]
        assert refused[0].status == Status.NO_RESERVATION
        assert refused[0].status_name == "NO_RESERVATION"
        assert service.metrics.refusals["NO_RESERVATION"] == 1


async def test_reservation_limit_refuses_with_status(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "p2pstack.relay")
    async with (
        relay_node(RelayConfig(max_reservations=1)) as (relay, service),
        plain_node() as first,
        plain_node() as second,
    ):
        await first.listen(f"{relay.addrs[0]}/p2p-circuit")
        with pytest.raises(TransportError) as info:
            await second.listen(f"{relay.addrs[0]}/p2p-circuit")
        refused = [e for e in cause_chain(info.value) if isinstance(e, RelayRefused)]
        assert refused[0].status == Status.RESERVATION_REFUSED
        assert service.metrics.refusals["reservations.max"] == 1
        assert service.metrics.refused["reserve", "reservations.max"] == 1
        assert "reservations.max=1 reached (RESERVATION_REFUSED)" in caplog.text


async def test_circuit_cut_at_data_limit() -> None:
    config = RelayConfig(circuit_data=32 * 1024)
    async with relay_node(config) as (relay, service), plain_node() as listener:
        listener.set_stream_handler(ECHO, echo_handler, allow_limited=True)
        await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        async with plain_node() as dialer:
            conn = await dialer.dial(circuit_addr(listener))
            stream = await conn.new_stream(ECHO, allow_limited=True)
            with pytest.raises(trio.BrokenResourceError), trio.fail_after(10):
                await echo_rounds(stream, 16)
            await conn.wait_closed()
            limit = limit_in(conn.close_cause)
            assert limit.limit == "relay.circuit.data"
            assert not limit.local
        assert service.metrics.circuit_ends["data_limit"] == 1


async def test_circuit_cut_at_duration_limit(autojump_clock: trio.testing.MockClock) -> None:
    network = MemoryNetwork()
    config = RelayConfig(circuit_duration=60)
    async with (
        relay_node(config, network=network) as (relay, service),
        plain_node(network) as listener,
        plain_node(network) as dialer,
    ):
        await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        conn = await dialer.dial(circuit_addr(listener))
        await ping_peer(dialer, conn, count=1)
        await trio.sleep(30)
        await ping_peer(dialer, conn, count=1)
        with trio.fail_after(60):
            await conn.wait_closed()
        assert limit_in(conn.close_cause).limit == "relay.circuit.duration"
        assert service.metrics.circuit_ends["duration_limit"] == 1


async def test_reservation_is_renewed_before_expiry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    network = MemoryNetwork()
    config = RelayConfig(reservation_ttl=600)
    async with (
        relay_node(config, network=network) as (relay, service),
        plain_node(network) as listener,
        plain_node(network) as dialer,
    ):
        await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        await trio.sleep(3000)  # five lifetimes of the reservation
        assert service.metrics.reservations_accepted >= 5
        assert service.resources.has_reservation(listener.peer_id, trio.current_time())
        await ping_peer(dialer, circuit_addr(listener), count=1)


async def test_reservation_comes_back_after_relay_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    network = MemoryNetwork()
    identity = Identity.generate()
    async with plain_node(network) as listener, plain_node(network) as dialer:
        async with relay_node(network=network, identity=identity, listen="/memory/4242") as (
            relay,
            _,
        ):
            await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
            target = circuit_addr(listener)
            rsvp = relay_transport(listener).listener_for(identity.peer_id)
            assert rsvp is not None
            assert rsvp.reservation is not None
        # The relay is gone: the reservation (and its address) go with it.
        await wait_until(lambda: rsvp.reservation is None, 5)
        assert not any(a.has_protocol("p2p-circuit") for a in listener.addrs)
        await trio.sleep(20)  # a few failed attempts, backing off
        async with relay_node(network=network, identity=identity, listen="/memory/4242") as (
            _,
            service,
        ):
            with trio.fail_after(120):
                await rsvp.reserved.wait()
            assert circuit_addr(listener) == target
            await ping_peer(dialer, target, count=1)
            assert service.metrics.reservations_accepted == 1


async def test_bulk_profile_is_unlimited() -> None:
    async with (
        relay_node(RelayConfig.bulk()) as (relay, _),
        plain_node(services=[ping(), identify(), perf()]) as listener,
        plain_node() as dialer,
    ):
        await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        conn = await dialer.dial(circuit_addr(listener))
        assert not conn.limited
        result = await perf_peer(dialer, conn, upload=1 << 20, download=1 << 20)
        assert result.download_bytes == 1 << 20


async def test_reservation_over_a_relayed_connection_is_refused() -> None:
    async with (
        relay_node() as (relay, service),
        relay_node(RelayConfig.bulk()) as (inner, _),
        plain_node() as client,
    ):
        # "inner" listens through "relay" and is itself a relay: reserving on "inner" through
        # the circuit must be refused (no relaying over relayed connections).
        await inner.listen(f"{relay.addrs[0]}/p2p-circuit")
        with pytest.raises(TransportError):
            await client.listen(f"{circuit_addr(inner)}/p2p-circuit")
        assert service.metrics.reservations_accepted == 1


async def test_auto_relay_reserves_on_an_identified_relay() -> None:
    discovery = auto_relay(AutoRelayConfig(relays=1, force=True))
    async with (
        relay_node() as (relay, _),
        plain_node(services=[discovery]) as node,
    ):
        with node.events.subscribe() as events:
            await node.dial(relay.addrs[0])
            with trio.fail_after(10):
                while not discovery.relays:
                    await events.receive()
        assert relay.peer_id in discovery.relays
        assert circuit_addr(node).startswith(str(relay.addrs[0]))


async def test_auto_relay_replaces_a_relay_that_goes_away(
    autojump_clock: trio.testing.MockClock,
) -> None:
    network = MemoryNetwork()
    discovery = auto_relay(AutoRelayConfig(relays=1, force=True, replace_after=30))
    async with (
        relay_node(network=network) as (second, _),
        plain_node(network, services=[discovery]) as node,
    ):
        async with relay_node(network=network) as (first, _):
            await node.dial(first.addrs[0])
            await wait_until(lambda: first.peer_id in discovery.relays, 10)
            await node.dial(second.addrs[0])  # identified: a candidate for later
        await wait_until(lambda: second.peer_id in discovery.relays, 300, step=1)
        assert first.peer_id not in discovery.relays
        assert circuit_addr(node).startswith(str(second.addrs[0]))


async def test_circuit_closed_by_its_dialler_counts_as_closed() -> None:
    async with relay_node() as (relay, service), plain_node() as listener:
        await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        async with plain_node() as dialer:
            conn = await dialer.dial(circuit_addr(listener))
            await ping_peer(dialer, conn, count=2)
            await conn.aclose()
        await wait_until(lambda: not service.metrics.active_circuits, 10)
        assert service.metrics.circuits_closed == 1
        assert dict(service.metrics.circuit_ends) == {"closed": 1}


async def test_circuit_whose_dialler_exits_counts_as_closed() -> None:
    async with relay_node() as (relay, service), plain_node() as listener:
        await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        async with plain_node() as dialer:
            conn = await dialer.dial(circuit_addr(listener))
            await ping_peer(dialer, conn, count=2)
        await wait_until(lambda: not service.metrics.active_circuits, 10)
        assert dict(service.metrics.circuit_ends) == {"closed": 1}
