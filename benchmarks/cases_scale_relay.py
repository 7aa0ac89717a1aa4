"""Relay capacity, part of the ``scale`` case: reservations one relay holds (memory and CPU
per reservation) and circuits per second opened and closed through it.

The relay runs the default or the bulk profile with every count and rate limit raised
(:data:`p2pstack.benchmarks.worker.relaycap.RAISED`), so what is measured is the relay, not
its limits. Each reservation is a node of its own in one of several client processes
(reservations are per peer); each circuit is a full relayed dial (hop CONNECT, stop, Noise
and Yamux inside the circuit), one ping stream, and the close.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Final

import trio

from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.procs import Child, spawn, worker_argv
from p2pstack.benchmarks.worker.common import shares

#: Seconds the reservation ramp may take past its fixed levels ("as many as fit").
RAMP_BUDGET: Final = 90.0
RAMP_STEP: Final = 1000


@asynccontextmanager
async def relay_process(profile: str, **params: Any) -> AsyncIterator[tuple[Child, str]]:
    """A ``relay-cap-server`` child and its address (with ``/p2p``)."""
    argv = worker_argv("relay-cap-server", profile=profile, **params)
    async with spawn(argv, name=f"relay ({profile})") as server:
        yield server, str((await server.read_json())["addr"])


async def measure(relay: Child) -> dict[str, Any]:
    """The relay's RSS, CPU seconds and counters."""
    await relay.send_line("measure")
    return await relay.read_json()


@asynccontextmanager
async def _children(role: str, addr: str, count: int) -> AsyncIterator[list[Child]]:
    async with AsyncExitStack() as stack:
        children = [
            await stack.enter_async_context(spawn(worker_argv(role, addr=addr), name=f"{role} {i}"))
            for i in range(count)
        ]
        for child in children:
            await child.read_json()
        yield children


async def _reserve(children: Sequence[Child], total: int) -> tuple[float, int]:
    start = trio.current_time()
    for child, share in zip(children, shares(total, len(children)), strict=True):
        await child.send_line(f"reserve {share}")
    live = 0
    for child in children:
        live += int((await child.read_json())["live"])
    return trio.current_time() - start, live


async def _reservations(ctx: Context, counts: Sequence[int], clients: int, ramp: bool) -> None:
    async with (
        relay_process("default") as (relay, addr),
        _children("relay-reserver", addr, clients) as children,
    ):
        base = await measure(relay)
        levels = list(counts)
        start = trio.current_time()
        while levels:
            count = levels.pop(0)
            ctx.step(f"scale: {count} relay reservations from {clients} clients")
            seconds, live = await _reserve(children, count)
            after = await measure(relay)
            held = int(after["active_reservations"])
            params: dict[str, Any] = {"count": count, "clients": clients}
            params.update(held=held, live=live)
            ctx.record(
                [(after["rss"] - base["rss"]) / max(held, 1) / 1024],
                id=f"scale/relay_rsv_rss/{count}",
                group="scale",
                label=f"relay RSS per reservation (its connection included) at {count:,}",
                unit="KiB",
                better="lower",
                params=params,
            )
            ctx.record(
                [(after["cpu"] - base["cpu"]) / max(held, 1) * 1000],
                id=f"scale/relay_rsv_cpu/{count}",
                group="scale",
                label=f"relay CPU per reservation (connection + reserve) up to {count:,}",
                unit="ms",
                better="lower",
                params={"seconds_to_reach": seconds, **params},
            )
            if held < count or not ramp:
                continue
            if not levels and trio.current_time() - start + seconds < RAMP_BUDGET:
                levels.append(count + RAMP_STEP)  # as many as fit in the budget
        ctx.record(
            [float(held)],
            id="scale/relay_rsv_max",
            group="scale",
            label=f"reservations held by one relay at the end of the ramp ({clients} clients)",
            unit="reservations",
            params={"clients": clients, "seconds": trio.current_time() - start},
        )


async def _circuits(ctx: Context, profile: str, clients: int, seconds: float) -> None:
    ctx.step(f"scale: circuits/s through one relay ({profile}), {clients} client pairs")
    async with (
        relay_process(profile) as (relay, addr),
        _children("relay-circuits", addr, clients) as children,
    ):
        before = await measure(relay)
        for child in children:
            await child.send_line(f"run {seconds}")
        results = [await child.read_json() for child in children]
        after = await measure(relay)
    done = sum(int(r["circuits"]) for r in results)
    wall = max(float(r["seconds"]) for r in results)
    params = {"profile": profile, "clients": clients, "circuits": done, "seconds": wall}
    ctx.record(
        [done / wall],
        id=f"scale/relay_circuits/{profile}",
        group="scale",
        label=f"circuits opened and closed per s through one relay ({profile}, limits raised)",
        unit="circuits/s",
        params=params,
    )
    ctx.record(
        [(after["cpu"] - before["cpu_after"]) / max(done, 1) * 1000],
        id=f"scale/relay_circuit_cpu/{profile}",
        group="scale",
        label=f"relay CPU per circuit ({profile})",
        unit="ms",
        better="lower",
        params=params,
    )


async def relay_capacity(ctx: Context, *, quick: bool, counts: Sequence[int]) -> None:
    """Reservations at ``counts`` (then a ramp while time allows, unless ``quick``) and
    circuits/s with the default and bulk profiles."""
    clients = 2 if quick else 4
    await _reservations(ctx, counts, clients, ramp=not quick)
    for profile in ("default", "bulk"):
        await _circuits(ctx, profile, clients, 1.0 if quick else 10.0)
