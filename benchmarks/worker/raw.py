"""Raw trio TCP over loopback: the ceiling every other figure is compared with."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable
from contextlib import suppress

import trio

from p2pstack.benchmarks.worker.common import (
    Control,
    Params,
    emit,
    exactly,
    send_one,
    shares,
    sink_one,
)

PING_SIZE = 32
_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, EOFError, OSError)


async def listen_tcp(handler: Callable[[trio.SocketStream], Awaitable[None]]) -> None:
    """Listen on 127.0.0.1, print ``{"port": P}`` and serve ``handler`` forever."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    emit({"port": listeners[0].socket.getsockname()[1]})

    async def guarded(stream: trio.SocketStream) -> None:
        with suppress(*_ERRORS):
            await handler(stream)

    await trio.serve_listeners(guarded, listeners)


async def tcp_sink(params: Params, control: Control) -> None:
    """Receive sink transfers, one after another on each connection, until EOF."""

    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            while True:
                await sink_one(stream)

    await listen_tcp(handle)


async def tcp_echo(params: Params, control: Control) -> None:
    """Echo every connection until EOF."""

    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            while data := await stream.receive_some(65536):
                await stream.send_all(data)

    await listen_tcp(handle)


async def tcp_send(params: Params, control: Control) -> None:
    """``total`` bytes over ``streams`` connections in ``write``-byte writes, ``repeat`` times.

    Each repetition times from the first write until every receiver has answered.
    """
    port, streams, total = params["port"], params["streams"], params["total"]
    chunk = memoryview(bytes(params["write"]))
    conns = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(streams)]
    samples: list[float] = []
    for _ in range(params["repeat"]):
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for conn, share in zip(conns, shares(total, streams), strict=True):
                nursery.start_soon(send_one, conn, share, chunk)
        samples.append(total / (trio.current_time() - start) / 1e6)
    for conn in conns:
        await conn.aclose()
    emit({"mb_s": samples})


async def _round_trip(stream: trio.abc.Stream, payload: bytes) -> None:
    await stream.send_all(payload)
    if await exactly(stream, len(payload)) != payload:
        raise RuntimeError("the echo differs from what was sent")


async def tcp_latency(params: Params, control: Control) -> None:
    """Against ``tcp-echo``: connect + first round trip, round-trip time, connection rate."""
    port = params["port"]
    payload = bytes(PING_SIZE)
    connect_ms: list[float] = []
    for _ in range(params["connects"]):
        start = trio.current_time()
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await _round_trip(stream, payload)
        connect_ms.append((trio.current_time() - start) * 1000)
        await stream.aclose()
    rtts_ms: list[float] = []
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        for _ in range(params["pings"]):
            start = trio.current_time()
            await _round_trip(stream, payload)
            rtts_ms.append((trio.current_time() - start) * 1000)
    count = params["rate"]
    start = trio.current_time()
    for _ in range(count):
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            await _round_trip(stream, b"x")
    rate = count / (trio.current_time() - start)
    emit(
        {
            "connect_ms": statistics.median(connect_ms),
            "rtt_ms": statistics.median(rtts_ms),
            "rate": rate,
        }
    )
