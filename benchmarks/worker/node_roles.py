"""Clients on the full stack (TCP + Noise + Yamux) against a ``p2pstack node`` process."""

from __future__ import annotations

import statistics

import trio

from p2pstack.benchmarks.worker.common import Control, Params, emit
from p2pstack.compose import open_node
from p2pstack.host.connection import Connection
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.echo import ECHO_PROTOCOL
from p2pstack.protocols.identify import identify
from p2pstack.protocols.perf import perf_peer
from p2pstack.protocols.ping import PING_PROTOCOL, ping


async def stack_perf(params: Params, control: Control) -> None:
    """Upload ``total`` bytes over ``streams`` perf streams, ``repeat`` times, one connection."""
    async with open_node(protocols=[ping(), identify()]) as node:
        conn = await node.dial(Multiaddr(params["addr"]))
        samples: list[float] = []
        for _ in range(params["repeat"]):
            result = await perf_peer(
                node,
                conn,
                upload=params["total"],
                download=0,
                streams=params["streams"],
                write_size=params["write"],
            )
            samples.append(result.upload_mb_s)
    emit({"mb_s": samples})


async def _echo_byte(conn: Connection) -> None:
    stream = await conn.new_stream(ECHO_PROTOCOL)
    try:
        await stream.send_all(b"x")
        if await stream.receive_exactly(1) != b"x":
            raise RuntimeError("echo answered with a different byte")
    finally:
        await stream.aclose()


async def _stream_rate(conn: Connection, count: int, tasks: int) -> float:
    """Streams per second: open, negotiate echo, one byte there and back, close."""

    async def worker(share: int) -> None:
        for _ in range(share):
            await _echo_byte(conn)

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for index in range(tasks):
            nursery.start_soon(worker, count // tasks + (1 if index < count % tasks else 0))
    return count / (trio.current_time() - start)


async def stack_latency(params: Params, control: Control) -> None:
    """Fresh connections (dial, and dial to the first negotiated stream), then stream rates."""
    addr = Multiaddr(params["addr"])
    dial_ms: list[float] = []
    first_stream_ms: list[float] = []
    async with open_node(protocols=[ping(), identify()]) as node:
        for _ in range(params["connects"]):
            start = trio.current_time()
            conn = await node.dial(addr)
            dial_ms.append((trio.current_time() - start) * 1000)
            stream = await conn.new_stream(PING_PROTOCOL)
            first_stream_ms.append((trio.current_time() - start) * 1000)
            await stream.aclose()
            await conn.aclose()
            await conn.wait_closed()
        conn = await node.dial(addr)
        rate = await _stream_rate(conn, params["rate"], 1)
        rate_concurrent = await _stream_rate(conn, params["rate"], params["concurrency"])
    emit(
        {
            "dial_ms": statistics.median(dial_ms),
            "first_stream_ms": statistics.median(first_stream_ms),
            "rate": rate,
            "rate_concurrent": rate_concurrent,
        }
    )
