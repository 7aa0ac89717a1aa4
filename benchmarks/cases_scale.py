"""How cost grows with load: idle connections (memory and CPU per connection), accept rate
with 1 and 4 client processes, stream open rate by concurrency on one connection, relay
capacity (:mod:`~p2pstack.benchmarks.cases_scale_relay`) and several processes sharing a port
(:mod:`~p2pstack.benchmarks.cases_scale_cores`).

``--memory-count N`` sets the levels: N/10, N and 10 N idle connections (default 100, 1,000,
10,000; ``--quick``: 5 and 50). The listener is one process; the connections come from
several client processes so that the dialling side is not the bottleneck.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Final

import trio

from p2pstack.benchmarks.cases_scale_cores import multicore
from p2pstack.benchmarks.cases_scale_relay import relay_capacity
from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.procs import Child, run_json, spawn, worker_argv
from p2pstack.benchmarks.worker.common import shares

#: Seconds the listener sits idle at each level to measure its idle CPU.
IDLE_WINDOW: Final = 2.0
CLIENTS: Final = 4
#: CPU seconds recorded for an idle window that used none measurable (figures are positive).
FLOOR: Final = 1e-6


def levels(memory_count: int) -> tuple[int, ...]:
    """The idle-connection counts measured for ``--memory-count``."""
    if memory_count < 1000:
        return (max(1, memory_count // 10), memory_count)
    return (memory_count // 10, memory_count, memory_count * 10)


@asynccontextmanager
async def _listener(*, trace: bool, keepalive: bool = True) -> AsyncIterator[tuple[Child, str]]:
    argv = worker_argv("scale-server", trace=trace, keepalive=keepalive)
    async with spawn(argv, name="scale-server") as server:
        yield server, str((await server.read_json())["addr"])


@asynccontextmanager
async def _clients(addr: str, count: int, *, keepalive: bool = True) -> AsyncIterator[list[Child]]:
    async with AsyncExitStack() as stack:
        children = [
            await stack.enter_async_context(
                spawn(
                    worker_argv("scale-client", addr=addr, keepalive=keepalive),
                    name=f"scale-client {index}",
                )
            )
            for index in range(count)
        ]
        for child in children:
            await child.read_json()
        yield children


async def _hold(clients: Sequence[Child], total: int) -> tuple[float, int]:
    """Have the clients hold ``total`` connections between them; the seconds it took and
    how many they hold (fewer if an overloaded listener dropped some)."""
    start = trio.current_time()
    for child, share in zip(clients, shares(total, len(clients)), strict=True):
        await child.send_line(f"hold {share}")
    live = 0
    for child in clients:
        live += int((await child.read_json())["live"])
    return trio.current_time() - start, live


async def _measure(server: Child, conns: int = 0) -> dict[str, Any]:
    await server.send_line(f"measure {conns}")
    return await server.read_json()


async def _idle_curve(ctx: Context, counts: Sequence[int], clients: int) -> None:
    """Memory per connection (Yamux keepalive off: at 10,000 connections the default pings
    alone saturate the listener; :func:`_keepalive_cpu` measures them)."""
    async with (
        _listener(trace=True, keepalive=False) as (server, addr),
        _clients(addr, clients, keepalive=False) as children,
    ):
        await _hold(children, clients)  # one warm connection per client
        base = await _measure(server, clients)
        for count in counts:
            ctx.step(f"scale: {count} idle connections from {clients} clients")
            seconds, live = await _hold(children, count)
            loaded = await _measure(server, live)
            await trio.sleep(IDLE_WINDOW)
            idle = await _measure(server, live)
            added = live - clients
            params: dict[str, Any] = {"count": count, "clients": clients, "live": live}
            common = {"group": "scale", "params": params}
            ctx.record(
                [(loaded["rss"] - base["rss"]) / added / 1024],
                id=f"scale/conn_rss/{count}",
                label=f"listener RSS per idle connection at {count:,}",
                unit="KiB",
                better="lower",
                **common,
            )
            ctx.record(
                [(loaded["traced"] - base["traced"]) / added / 1024],
                id=f"scale/conn_traced/{count}",
                label=f"listener tracemalloc per idle connection at {count:,}",
                unit="KiB",
                better="lower",
                **common,
            )
            ctx.record(
                [max(idle["cpu"] - loaded["cpu_after"], FLOOR) / IDLE_WINDOW * 1e6 / count],
                id=f"scale/idle_cpu/{count}",
                label=f"listener idle CPU per connection at {count:,}",
                unit="us/s",
                better="lower",
                **common,
            )
            ctx.record(
                [max(idle["cpu"] - loaded["cpu_after"], FLOOR) / IDLE_WINDOW * 1000],
                id=f"scale/idle_cpu_total/{count}",
                label=f"listener idle CPU in all at {count:,} connections",
                unit="ms/s",
                better="lower",
                **common,
            )
            ctx.record(
                [(loaded["cpu"] - base["cpu"]) / added * 1000],
                id=f"scale/accept_cpu/{count}",
                label=f"listener CPU per accepted connection up to {count:,} (traced)",
                unit="ms",
                better="lower",
                **common,
            )
            ctx.record(
                [loaded["conns"]],
                id=f"scale/held/{count}",
                label=f"connections the listener held at level {count:,}",
                unit="conns",
                params={"seconds_to_reach": seconds, **params},
                group="scale",
            )


async def _accept_rate(ctx: Context, total: int, clients: int) -> None:
    ctx.step(f"scale: accept rate, {total} connections from {clients} client(s)")
    async with _listener(trace=False) as (server, addr), _clients(addr, clients) as children:
        await _hold(children, clients)
        before = await _measure(server, clients)
        seconds, live = await _hold(children, total)
        after = await _measure(server, live)
    added = live - clients
    ctx.record(
        [added / seconds],
        id=f"scale/accept_rate/c{clients}",
        group="scale",
        label=f"accept rate, fully upgraded, {clients} client process(es)",
        unit="conn/s",
        params={"count": total, "clients": clients},
    )
    ctx.record(
        [(after["cpu"] - before["cpu"]) / added * 1000],
        id=f"scale/accept_cpu/c{clients}",
        group="scale",
        label=f"listener CPU per accepted connection, {clients} client process(es)",
        unit="ms",
        better="lower",
        params={"count": total, "clients": clients},
    )


async def _keepalive_cpu(ctx: Context, count: int, clients: int, window: float) -> None:
    ctx.step(f"scale: idle CPU with Yamux keepalive, {count} connections, {window:g} s")
    async with _listener(trace=False) as (server, addr), _clients(addr, clients) as children:
        _, live = await _hold(children, count)
        await trio.sleep(1.0)
        before = await _measure(server, live)
        await trio.sleep(window)
        after = await _measure(server, live)
    ctx.record(
        [max(after["cpu"] - before["cpu_after"], FLOOR) / window * 1000],
        id=f"scale/keepalive_cpu_total/{count}",
        group="scale",
        label=f"listener idle CPU with keepalive pings (10 s), {live:,} connections",
        unit="ms/s",
        better="lower",
        params={"count": count, "live": live, "window": window},
    )


async def _stream_rates(ctx: Context, concurrency: Sequence[int], minimum: int) -> None:
    ctx.step(f"scale: stream open rate at {', '.join(map(str, concurrency))} tasks")
    async with _listener(trace=False) as (_, addr):
        argv = worker_argv(
            "stream-rates", addr=addr, concurrency=list(concurrency), per_task=2, minimum=minimum
        )
        result = await run_json(argv, name="stream-rates")
    for tasks, rate in result["rates"].items():
        ctx.record(
            [rate],
            id=f"scale/stream_rate/t{tasks}",
            group="scale",
            label=f"stream open/echo/close on one connection, {tasks} at once",
            unit="streams/s",
            params={"tasks": int(tasks)},
        )


async def scale(ctx: Context) -> None:
    """Idle-connection curve, accept rates (1 and 4 clients), stream rates by concurrency,
    relay capacity, multi-core."""
    cfg = ctx.config
    quick = cfg.memory_count < 1000
    counts = levels(cfg.memory_count)
    await _idle_curve(ctx, counts, 2 if quick else CLIENTS)
    await _keepalive_cpu(
        ctx, counts[-1] if quick else counts[1], 2 if quick else CLIENTS, 2.0 if quick else 20.0
    )
    for clients in (1, 2 if quick else CLIENTS):
        await _accept_rate(ctx, cfg.memory_count, clients)
    await _stream_rates(ctx, (1, 10) if quick else (1, 10, 100, 1000), cfg.stream_rate)
    await relay_capacity(ctx, quick=quick, counts=(5, 20) if quick else (100, 1000))
    await multicore(ctx, quick=quick, total=cfg.memory_count)
