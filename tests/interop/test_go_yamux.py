"""Interop with the original HashiCorp yamux (Go) over plain TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from p2pstack.muxers.yamux import ConnectionLost, YamuxConfig, YamuxSession, YamuxStream
from p2pstack.role import Role
from tests.interop.bench_yamux import run_all
from tests.peers.go_yamux import go_client, go_server

pytestmark = pytest.mark.interop

MiB = 1024 * 1024
MANY = YamuxConfig(max_streams=400)


def pattern(size: int, seed: int) -> bytes:
    """The bytes the Go client sends on stream ``seed`` (and expects back)."""
    period = bytes((i + seed) % 251 for i in range(251))
    return (period * (size // 251 + 1))[:size]


async def read_exactly(stream: YamuxStream, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        chunk = await stream.receive_some(min(size - len(got), 1 << 20))
        assert chunk, f"EOF after {len(got)} of {size} bytes"
        got += chunk
    return bytes(got)


async def read_all(stream: YamuxStream) -> bytes:
    got = bytearray()
    while chunk := await stream.receive_some(1 << 20):
        got += chunk
    return bytes(got)


@asynccontextmanager
async def dial_go(
    mode: str = "server", config: YamuxConfig | None = None
) -> AsyncIterator[YamuxSession]:
    async with go_server(mode) as port, trio.open_nursery() as nursery:
        transport = await trio.open_tcp_stream("127.0.0.1", port)
        session = YamuxSession(transport, role=Role.INITIATOR, config=config)
        await nursery.start(session.run)
        try:
            yield session
        finally:
            await session.aclose()


async def echo(stream: YamuxStream) -> None:
    while data := await stream.receive_some(1 << 20):
        await stream.send_all(data)
    await stream.aclose()


async def sink(stream: YamuxStream) -> None:
    size = int.from_bytes(await read_exactly(stream, 8), "big")
    received = 0
    while received < size:
        received += len(await stream.receive_some(min(size - received, 1 << 20)))
    await stream.send_all(received.to_bytes(8, "big"))
    await read_all(stream)
    await stream.aclose()


async def serve_go_client(
    handler_name: str, config: YamuxConfig | None = None, **client_args: int | bool
) -> dict[str, object]:
    """Accept one connection from the Go client and serve its streams with ``handler``."""
    handler = {"echo": echo, "sink": sink}[handler_name]
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    port = listener.socket.getsockname()[1]
    report: dict[str, object] = {}
    async with trio.open_nursery() as nursery:

        async def run_client() -> None:
            report.update(await go_client(port, **client_args))  # type: ignore[arg-type]

        nursery.start_soon(run_client)
        transport = await listener.accept()
        await listener.aclose()
        session = YamuxSession(transport, role=Role.RESPONDER, config=config)
        await nursery.start(session.run)
        async with trio.open_nursery() as handlers:
            while True:
                try:
                    stream = await session.accept_stream()
                except trio.EndOfChannel:
                    break
                handlers.start_soon(handler, stream)
    # The Go client closes its session without GoAway: a bare EOF.
    assert isinstance(session.close_reason, ConnectionLost)
    return report


async def test_echo_against_go_server() -> None:
    with trio.fail_after(20):
        async with dial_go() as session:
            assert await session.ping() > 0
            stream = await session.open_stream()
            await stream.send_all(b"hello go")
            await stream.send_eof()
            assert await read_all(stream) == b"hello go"
            await stream.aclose()


async def test_bulk_64_mib_to_go_echo() -> None:
    data = pattern(64 * MiB, 3)
    with trio.fail_after(60):
        async with dial_go() as session:
            stream = await session.open_stream()
            async with trio.open_nursery() as nursery:

                async def send() -> None:
                    view = memoryview(data)
                    for i in range(0, len(data), 256 * 1024):
                        await stream.send_all(view[i : i + 256 * 1024])
                    await stream.send_eof()

                nursery.start_soon(send)
                assert await read_all(stream) == data
            await stream.aclose()


async def test_300_concurrent_streams_to_go_echo() -> None:
    with trio.fail_after(60):
        async with dial_go(config=MANY) as session:

            async def one(i: int) -> None:
                stream = await session.open_stream()
                message = pattern(20_000, i)
                await stream.send_all(message)
                await stream.send_eof()
                assert await read_all(stream) == message
                await stream.aclose()

            async with trio.open_nursery() as nursery:
                for i in range(300):
                    nursery.start_soon(one, i)
            assert session.num_streams == 0


async def test_one_way_64_mib_to_go_sink() -> None:
    size = 64 * MiB
    with trio.fail_after(60):
        async with dial_go("sink") as session:
            stream = await session.open_stream()
            await stream.send_all(size.to_bytes(8, "big"))
            chunk = bytes(256 * 1024)
            for _ in range(size // len(chunk)):
                await stream.send_all(chunk)
            assert int.from_bytes(await read_exactly(stream, 8), "big") == size
            await stream.aclose()


async def test_go_client_echo_small_and_bulk() -> None:
    with trio.fail_after(60):
        report = await serve_go_client("echo", size=100)
        assert report["bytes"] == 100
        report = await serve_go_client("echo", size=64 * MiB, write=65536)
        assert report["bytes"] == 64 * MiB


async def test_go_client_300_streams_exercise_the_backlogs() -> None:
    with trio.fail_after(60):
        report = await serve_go_client("echo", MANY, streams=300, size=20_000, write=4096)
        assert report["streams"] == 300


async def test_go_client_one_way_64_mib() -> None:
    with trio.fail_after(60):
        report = await serve_go_client("sink", size=64 * MiB, write=256 * 1024, oneway=True)
        assert report["bytes"] == 64 * MiB


async def test_benchmarks_run() -> None:
    """The throughput script works (figures are printed by bench_yamux, not asserted)."""
    with trio.fail_after(60):
        rates = await run_all(16 * MiB)
    assert all(rate > 0 for rate in rates.values())
