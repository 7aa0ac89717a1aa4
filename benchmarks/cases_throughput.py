"""Bulk throughput: the raw TCP ceiling, the stream-count x write-size matrix of every layer,
and the headline TCP+Noise+Yamux transfers through ``p2pstack perf``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final

from p2pstack.benchmarks.config import KiB
from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.peers import our_node
from p2pstack.benchmarks.procs import cli_argv, run_json, spawn, worker_argv
from p2pstack.cli.sizes import format_size
from p2pstack.protocols.perf import DEFAULT_WRITE_SIZE

CEILING_ID: Final = "tcp/ceiling"
CEILING_WRITE: Final = 256 * KiB

#: The layers of the matrix: id -> label.
STACKS: Final = {
    "tcp": "raw TCP",
    "yamux-mem": "Yamux (in memory)",
    "tcp-yamux": "TCP+Yamux",
    "tcp-noise-yamux": "TCP+Noise+Yamux",
}

#: A client: (streams, bytes, write size, repetitions) -> MB/s samples.
Sender = Callable[[int, int, int, int], Awaitable[list[float]]]


def plural(count: int, noun: str) -> str:
    """``plural(16, "stream")`` -> ``"16 streams"``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def headline_id(streams: int) -> str:
    """The id of the ``p2pstack perf`` figure over ``streams`` streams."""
    return f"ours/upload/s{streams}"


def matrix_id(stack: str, streams: int, write: int) -> str:
    """The id of one matrix cell."""
    return f"matrix/{stack}/s{streams}/w{write // KiB}K"


def _worker_sender(role: str, **where: object) -> Sender:
    async def send(streams: int, total: int, write: int, repeat: int) -> list[float]:
        argv = worker_argv(role, streams=streams, total=total, write=write, repeat=repeat, **where)
        result = await run_json(argv, name=role)
        return [float(x) for x in result["mb_s"]]

    return send


@asynccontextmanager
async def sender_for(stack: str) -> AsyncIterator[Sender]:
    """Start the receiving side of ``stack`` (if any) and yield a client for it."""
    if stack == "yamux-mem":
        yield _worker_sender("yamux-memory")
    elif stack == "tcp-noise-yamux":
        async with our_node() as server:
            yield _worker_sender("stack-perf", addr=server.addr)
    else:
        server_role, client_role = ("tcp-sink", "tcp-send")
        if stack == "tcp-yamux":
            server_role, client_role = ("yamux-sink", "yamux-send")
        async with spawn(worker_argv(server_role), name=server_role) as server:
            port = (await server.read_json())["port"]
            yield _worker_sender(client_role, port=port)


async def ceiling(ctx: Context) -> None:
    """Raw trio TCP, one connection, 256 KiB writes, separate processes: the reference."""
    cfg = ctx.config
    ctx.step(f"raw TCP ceiling, {format_size(cfg.large)}")
    async with sender_for("tcp") as send:
        samples = await send(1, cfg.large, CEILING_WRITE, cfg.repeat)
    ctx.record(
        samples,
        id=CEILING_ID,
        group="throughput",
        label="raw trio TCP (ceiling), 1 connection, 256 KiB writes",
        unit="MB/s",
        params={"bytes": cfg.large, "write": CEILING_WRITE, "streams": 1},
    )


async def matrix(ctx: Context) -> None:
    """Every layer for every stream count and write size (raw TCP: one connection per stream)."""
    cfg = ctx.config
    for stack, label in STACKS.items():
        async with sender_for(stack) as send:
            for streams in cfg.stream_counts:
                for write in cfg.write_sizes:
                    ctx.step(f"{label}, {plural(streams, 'stream')}, {format_size(write)} writes")
                    samples = await send(streams, cfg.size, write, cfg.repeat)
                    ctx.record(
                        samples,
                        id=matrix_id(stack, streams, write),
                        group="matrix",
                        label=f"{label}, {plural(streams, 'stream')}, {format_size(write)} writes",
                        unit="MB/s",
                        params={"stack": stack, "streams": streams, "write": write},
                        compare={"tcp": CEILING_ID},
                    )


async def headline(ctx: Context) -> None:
    """TCP+Noise+Yamux uploads through ``p2pstack perf`` against ``p2pstack node``."""
    cfg = ctx.config
    async with our_node(metrics=cfg.server_metrics) as server:
        for streams in cfg.headline_streams:
            samples: list[float] = []
            for index in range(cfg.repeat):
                ctx.step(
                    f"p2pstack perf, {plural(streams, 'stream')}, run {index + 1}/{cfg.repeat}"
                )
                argv = cli_argv("perf", server.addr, "--upload", str(cfg.large))
                argv += ["--streams", str(streams), "--json"]
                samples.append(float((await run_json(argv, name="p2pstack perf"))["upload_mb_s"]))
            ctx.record(
                samples,
                id=headline_id(streams),
                group="throughput",
                label=f"TCP+Noise+Yamux (p2pstack perf), {plural(streams, 'stream')}",
                unit="MB/s",
                params={"bytes": cfg.large, "streams": streams, "write": DEFAULT_WRITE_SIZE},
                compare={"tcp": CEILING_ID, "js": "js-js/upload", "py": "py-py/upload"},
                note=None if streams == 1 else "js/py ratios use their single-stream figure",
            )
