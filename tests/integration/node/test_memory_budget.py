"""Yamux receive windows are reserved from each connection's resource scope."""

from __future__ import annotations

import pytest
import trio

from p2pstack.host.node import NodeConfig
from p2pstack.host.resources import KiB, MemoryLimits
from p2pstack.protocols.echo import ECHO_PROTOCOL, echo
from tests.helpers import wait_until
from tests.helpers.nodes import node_pair

WINDOW = 256 * KiB


async def test_windows_are_reserved_and_released_with_the_streams() -> None:
    async with node_pair([echo()], [echo()], connect=False) as (a, b):
        overhead = a.config.memory.connection_overhead
        streams = [await b.new_stream(a.addrs[0], ECHO_PROTOCOL) for _ in range(8)]
        for stream in streams:
            await stream.send_all(b"x")
            assert await stream.receive_some() == b"x"
        (conn,) = a.connections
        assert conn.scope.memory >= overhead + 8 * WINDOW
        assert a.resources.system.memory == conn.scope.memory
        for stream in streams:
            await stream.aclose()
        await wait_until(lambda: conn.scope.memory == overhead)
        await b.hang_up(a.peer_id)
        await wait_until(lambda: a.resources.system.memory == 0)


async def test_streams_beyond_the_connection_budget_are_refused() -> None:
    config = NodeConfig(memory=MemoryLimits(connection=4 * WINDOW))
    async with node_pair([echo()], [echo()], a_config=config, connect=False) as (a, b):
        held = []
        for _ in range(3):  # the fourth window does not fit beside the connection overhead
            stream = await b.new_stream(a.addrs[0], ECHO_PROTOCOL)
            await stream.send_all(b"x")
            assert await stream.receive_some() == b"x"
            held.append(stream)

        async def one_more() -> None:
            stream = await b.new_stream(a.addrs[0], ECHO_PROTOCOL)
            await stream.send_all(b"x")
            await stream.receive_some()

        with pytest.raises(trio.BrokenResourceError):
            await one_more()
        assert a.resources.system.memory <= 4 * WINDOW
        await held.pop().aclose()
        await wait_until(lambda: a.resources.system.memory <= 3 * WINDOW)
        stream = await b.new_stream(a.addrs[0], ECHO_PROTOCOL)  # room again
        await stream.send_all(b"y")
        assert await stream.receive_some() == b"y"
