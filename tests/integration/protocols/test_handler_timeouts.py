"""Every built-in handler resets a stream that makes no progress (autojump clock)."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing

from p2pstack.errors import InvalidConfigError
from p2pstack.host.netstream import NetStream
from p2pstack.host.node import Node
from p2pstack.host.service import Service
from p2pstack.muxers.yamux import StreamResetError
from p2pstack.protocols.echo import ECHO_PROTOCOL, EchoConfig, echo
from p2pstack.protocols.identify import IDENTIFY_PROTOCOL, IdentifyConfig, identify
from p2pstack.protocols.identify.service import IDENTIFY_PUSH_PROTOCOL
from p2pstack.protocols.perf import PERF_PROTOCOL, PerfConfig, perf
from p2pstack.protocols.ping import PING_PROTOCOL, PING_SIZE, PingConfig, ping
from tests.helpers.nodes import node_pair


@asynccontextmanager
async def nodes(services: Sequence[Service]) -> AsyncIterator[tuple[Node, Node]]:
    async with node_pair(services, [], connect=False) as (server, client):
        yield server, client


async def _drain(stream: NetStream) -> None:
    while await stream.receive_some():
        pass


async def expect_reset(stream: NetStream) -> None:
    """Read until the server resets the stream (anything echoed before is ignored)."""
    with pytest.raises(trio.BrokenResourceError) as info:
        await _drain(stream)
    assert isinstance(info.value.__cause__, StreamResetError)
    assert info.value.__cause__.remote


async def reset_after(server: Node, client: Node, protocol: str, first: bytes = b"") -> float:
    """Open ``protocol``, send ``first`` and then nothing; the seconds until the reset."""
    stream = await client.new_stream(server.addrs[0], protocol)
    start = trio.current_time()
    if first:
        await stream.send_all(first)
    await expect_reset(stream)
    return trio.current_time() - start


async def test_idle_echo_stream_is_reset(autojump_clock: trio.testing.MockClock) -> None:
    async with nodes([echo()]) as (server, client):
        assert await reset_after(server, client, ECHO_PROTOCOL) == pytest.approx(30.0)


async def test_echo_stream_with_progress_stays_open(autojump_clock: trio.testing.MockClock) -> None:
    async with nodes([echo(EchoConfig(idle_timeout=5.0))]) as (server, client):
        stream = await client.new_stream(server.addrs[0], ECHO_PROTOCOL)
        for _ in range(5):  # 20 s in all, never 5 s idle
            await trio.sleep(4.0)
            await stream.send_all(b"hello")
            assert await stream.receive_exactly(5) == b"hello"
        start = trio.current_time()
        await expect_reset(stream)
        assert trio.current_time() - start == pytest.approx(5.0)


async def test_echo_to_a_peer_that_does_not_read_is_reset(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with nodes([echo(EchoConfig(idle_timeout=5.0))]) as (server, client):
        stream = await client.new_stream(server.addrs[0], ECHO_PROTOCOL)
        # more than the windows hold: the echo blocks, then our sending does
        with pytest.raises(trio.BrokenResourceError) as info:
            await stream.send_all(bytes(8 * 1024 * 1024))
        assert isinstance(info.value.__cause__, StreamResetError)
        assert trio.current_time() == pytest.approx(5.0, abs=1.0)


async def test_idle_ping_stream_is_reset(autojump_clock: trio.testing.MockClock) -> None:
    async with nodes([ping(PingConfig(idle_timeout=7.0))]) as (server, client):
        elapsed = await reset_after(server, client, PING_PROTOCOL, bytes(PING_SIZE))
        assert elapsed == pytest.approx(7.0)


async def test_idle_perf_stream_is_reset(autojump_clock: trio.testing.MockClock) -> None:
    async with nodes([perf(PerfConfig(idle_timeout=9.0))]) as (server, client):
        elapsed = await reset_after(server, client, PERF_PROTOCOL, struct.pack(">Q", 10))
        assert elapsed == pytest.approx(9.0)


async def test_idle_identify_push_stream_is_reset(autojump_clock: trio.testing.MockClock) -> None:
    async with nodes([identify(IdentifyConfig(timeout=4.0))]) as (server, client):
        assert await reset_after(server, client, IDENTIFY_PUSH_PROTOCOL) == pytest.approx(4.0)
        assert IDENTIFY_PROTOCOL in server.protocols


def test_factories_keep_their_call_forms() -> None:
    assert echo().config == EchoConfig()
    assert ping().config == PingConfig()
    assert perf().config == PerfConfig()


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [
        (EchoConfig, {"idle_timeout": 0}),
        (EchoConfig, {"idle_timeout": True}),
        (PerfConfig, {"idle_timeout": -1.0}),
        (PingConfig, {"idle_timeout": 0}),
    ],
)
def test_invalid_idle_timeouts(factory: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidConfigError):
        factory(**kwargs)
