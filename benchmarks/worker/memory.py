"""Memory per idle connection and per open stream, measured inside worker processes.

The server and the client each answer with RSS and tracemalloc's traced bytes; the parent
asks at two moments (baseline and loaded) so both ends are measured at the same points.
"""

from __future__ import annotations

import tracemalloc
from contextlib import suppress

import trio

from p2pstack.benchmarks.worker.common import Control, Params, emit, memory_probe
from p2pstack.benchmarks.worker.raw import listen_tcp
from p2pstack.compose import open_node
from p2pstack.host.admission import AdmissionLimits
from p2pstack.host.limits import ConnectionLimits, Watermarks
from p2pstack.host.netstream import NetStream
from p2pstack.host.node import NodeConfig
from p2pstack.host.resources import MemoryLimits
from p2pstack.multiaddr import Multiaddr
from p2pstack.muxers.yamux import YamuxConfig, yamux
from p2pstack.protocols.echo import ECHO_PROTOCOL, echo
from p2pstack.protocols.ping import ping


def unlimited_node_config() -> NodeConfig:
    """No connection, stream, per-address or memory limits and no trimming: the point is to
    hold ``count`` of them, all from loopback."""
    return NodeConfig(
        memory=MemoryLimits(system=None, transient=None, peer=None, connection=None, address=None),
        admission=AdmissionLimits(pending_per_ip=None, pending_per_subnet=None, conns_per_ip=None),
        watermarks=Watermarks(high_water=None),
        limits=ConnectionLimits(
            max_connections=None,
            max_inbound=None,
            max_outbound=None,
            max_per_peer=None,
            max_pending_inbound=None,
            max_pending_outbound=None,
            max_inbound_streams=None,
            max_outbound_streams=None,
        ),
    )


def _muxer_config(count: int) -> YamuxConfig:
    limit = max(256, count + 16)
    return YamuxConfig(max_streams=limit, accept_backlog=limit)


async def _answer_probes(control: Control) -> None:
    while True:
        if await control.next_line() == "measure":
            emit(memory_probe())


async def mem_server(params: Params, control: Control) -> None:
    """Hold connections (``kind`` "stack" or "tcp"); print a probe on each "measure" line."""
    tracemalloc.start()
    if params["kind"] == "tcp":

        async def hold(stream: trio.SocketStream) -> None:
            async with stream:
                while await stream.receive_some(4096):
                    pass

        async with trio.open_nursery() as nursery:
            nursery.start_soon(listen_tcp, hold)
            await _answer_probes(control)
        return
    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"],
        muxers=[yamux(_muxer_config(params["count"]))],
        protocols=[ping(), echo()],
        config=unlimited_node_config(),
    ) as node:
        emit({"addr": str(node.addrs[0])})
        await _answer_probes(control)


async def mem_client(params: Params, control: Control) -> None:
    """Open ``count`` idle connections or streams between two probes ("next" continues)."""
    tracemalloc.start()
    count = params["count"]
    if params["kind"] == "tcp":
        port = params["port"]
        await (await trio.open_tcp_stream("127.0.0.1", port)).aclose()
        emit({"phase": "base", **memory_probe()})
        await control.next_line()
        conns = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(count)]
        emit({"phase": "loaded", **memory_probe()})
        await control.next_line()
        for conn in conns:
            await conn.aclose()
        return
    addr = Multiaddr(params["addr"])
    bare = addr.without_peer_id()  # no peer id: every dial makes a new connection
    async with open_node(
        muxers=[yamux(_muxer_config(count))], protocols=[ping()], config=unlimited_node_config()
    ) as node:
        first = await node.dial(bare)
        await (await first.new_stream(ECHO_PROTOCOL)).aclose()
        if params["mode"] == "conns":
            await first.aclose()
            await first.wait_closed()
        emit({"phase": "base", **memory_probe()})
        await control.next_line()
        streams: list[NetStream] = []
        if params["mode"] == "conns":
            for _ in range(count):
                await node.dial(bare)
        else:
            for _ in range(count):
                streams.append(await first.new_stream(ECHO_PROTOCOL))
        emit({"phase": "loaded", **memory_probe()})
        await control.next_line()
        for stream in streams:
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.aclose()
