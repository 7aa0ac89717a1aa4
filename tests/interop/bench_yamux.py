"""Throughput sanity check: Yamux over TCP loopback versus raw trio TCP (not a test).

Run: ``python -m tests.interop.bench_yamux [MiB]`` from the repository root. Figures are
MB/s (10**6 bytes per second) for one stream with 256 KiB writes; compare them as ratios
within one run, the machine is shared.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable

import trio

from p2pstack.muxers.yamux import YamuxSession
from p2pstack.role import Role
from tests.helpers.yamux import tcp_pair
from tests.peers.go_yamux import go_client, go_server

MiB = 1024 * 1024
WRITE = 256 * 1024


async def _timed(
    send: Callable[[], Awaitable[None]], receive: Callable[[], Awaitable[int]]
) -> float:
    received = 0

    async def count() -> None:
        nonlocal received
        received = await receive()

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        nursery.start_soon(count)
    return received / (time.perf_counter() - start) / 1e6


async def _drain(stream: trio.abc.ReceiveStream) -> int:
    total = 0
    while chunk := await stream.receive_some(WRITE):
        total += len(chunk)
    return total


async def bench_raw_tcp(size: int) -> float:
    """MB/s of plain trio TCP, sender and receiver in this process."""
    left, right = await tcp_pair()
    chunk = bytes(WRITE)

    async def send() -> None:
        for _ in range(size // WRITE):
            await left.send_all(chunk)
        await left.aclose()

    rate = await _timed(send, lambda: _drain(right))
    await right.aclose()
    return rate


async def bench_yamux_tcp(size: int) -> float:
    """MB/s of one Yamux stream over TCP, both sessions in this process."""
    left, right = await tcp_pair()
    async with trio.open_nursery() as nursery:
        client = YamuxSession(left, role=Role.INITIATOR)
        server = YamuxSession(right, role=Role.RESPONDER)
        await nursery.start(client.run)
        await nursery.start(server.run)
        await client.ping()
        out = await client.open_stream()
        inbound = await server.accept_stream()
        chunk = bytes(WRITE)

        async def send() -> None:
            for _ in range(size // WRITE):
                await out.send_all(chunk)
            await out.send_eof()

        rate = await _timed(send, lambda: _drain(inbound))
        await client.aclose()
        await server.aclose()
    return rate


async def bench_to_go_sink(size: int) -> float:
    """MB/s from our Yamux (this process) to the Go sink (another process)."""
    async with go_server("sink", window=16 * MiB) as port, trio.open_nursery() as nursery:
        session = YamuxSession(await trio.open_tcp_stream("127.0.0.1", port), role=Role.INITIATOR)
        await nursery.start(session.run)
        await session.ping()
        stream = await session.open_stream()
        chunk = bytes(WRITE)
        start = time.perf_counter()
        await stream.send_all(size.to_bytes(8, "big"))
        for _ in range(size // WRITE):
            await stream.send_all(chunk)
        reply = b""
        while len(reply) < 8:
            reply += await stream.receive_some(8 - len(reply))
        rate = size / (time.perf_counter() - start) / 1e6
        await session.aclose()
    return rate


async def bench_from_go_client(size: int) -> float:
    """MB/s from the Go client (another process) into our Yamux; the Go client's figure."""
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    report: dict[str, object] = {}
    async with trio.open_nursery() as nursery:

        async def client() -> None:
            report.update(
                await go_client(port, size=size, write=WRITE, window=16 * MiB, oneway=True)
            )

        nursery.start_soon(client)
        session = YamuxSession(await listener.accept(), role=Role.RESPONDER)
        await listener.aclose()
        await nursery.start(session.run)
        stream = await session.accept_stream()
        header = b""
        while len(header) < 8:
            header += await stream.receive_some(8 - len(header))
        expected = int.from_bytes(header, "big")
        received = 0
        while received < expected:
            received += len(await stream.receive_some(WRITE))
        await stream.send_all(received.to_bytes(8, "big"))
        await _drain(stream)
        await stream.aclose()
    mbps = report["mbps"]
    assert isinstance(mbps, float)
    return mbps


async def run_all(size: int) -> dict[str, float]:
    """Every benchmark once with ``size`` bytes; returns MB/s by name."""
    return {
        "raw trio TCP (in-process)": await bench_raw_tcp(size),
        "yamux over TCP (in-process)": await bench_yamux_tcp(size),
        "yamux -> go sink": await bench_to_go_sink(size),
        "go client -> yamux": await bench_from_go_client(size),
    }


def main() -> None:
    size = int(sys.argv[1]) * MiB if len(sys.argv) > 1 else 1024 * MiB
    for name, rate in trio.run(run_all, size).items():
        print(f"{name:32} {rate:8.0f} MB/s")


if __name__ == "__main__":
    main()
