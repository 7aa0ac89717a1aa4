"""Multi-core, part of the ``scale`` case: N listener processes sharing one TCP port
(``TcpConfig(reuse_port=True)``: ``SO_REUSEPORT``, the kernel spreads new connections over
them by address hash) and one identity, against one process, in one run: accept rate,
aggregate upload throughput, and what sharing a port does to a relay (reservations live in
the process that accepted them).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Final

import trio

from p2pstack.benchmarks.cases_scale_relay import measure, relay_process
from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.procs import Child, spawn, worker_argv
from p2pstack.benchmarks.worker.common import shares
from p2pstack.multiaddr import Multiaddr

MiB: Final = 1 << 20


def _port(addr: str) -> int:
    return int(Multiaddr(addr).value_for("tcp") or 0)


@asynccontextmanager
async def _listeners(count: int, seed: str) -> AsyncIterator[tuple[list[Child], str]]:
    """``count`` scale-server processes on one port with one identity."""
    async with AsyncExitStack() as stack:
        children: list[Child] = []
        addr = ""
        port = 0
        for index in range(count):
            argv = worker_argv(
                "scale-server", reuse_port=True, port=port, seed=seed, perf=True, keepalive=False
            )
            child = await stack.enter_async_context(spawn(argv, name=f"listener {index}"))
            addr = str((await child.read_json())["addr"])
            port = _port(addr)
            children.append(child)
        yield children, addr


async def _accept(
    listeners: list[Child], addr: str, total: int, clients: int
) -> tuple[float, int, list[int]]:
    """Connections/s the clients got up to ``total``; how many each listener held."""
    async with AsyncExitStack() as stack:
        children = []
        for index in range(clients):
            argv = worker_argv("scale-client", addr=addr, keepalive=False)
            children.append(await stack.enter_async_context(spawn(argv, name=f"client {index}")))
        for child in children:
            await child.read_json()
        start = trio.current_time()
        for child, share in zip(children, shares(total, clients), strict=True):
            await child.send_line(f"hold {share}")
        live = sum([int((await child.read_json())["live"]) for child in children])
        seconds = trio.current_time() - start
        conns = []
        for child in listeners:
            await child.send_line("measure 0")
            conns.append(int((await child.read_json())["conns"]))
        return seconds, live, conns


async def _upload(addr: str, clients: int, size: int) -> float:
    """Aggregate MB/s of ``clients`` processes uploading ``size`` bytes each at once: all
    bytes over the span from the first start to the last end (wall clock)."""
    async with AsyncExitStack() as stack:
        children = []
        for index in range(clients):
            argv = worker_argv("upload-client", addr=addr, total=size)
            children.append(await stack.enter_async_context(spawn(argv, name=f"upload {index}")))
        for child in children:
            await child.read_json()
        for child in children:
            await child.send_line("go")
        spans = [await child.read_json() for child in children]
    wall = float(max(s["end"] for s in spans)) - float(min(s["start"] for s in spans))
    return clients * size / wall / 1e6


async def _relay_sharing(ctx: Context, attempts: int) -> None:
    """Two relay processes behind one port: circuits to a peer that reserved on one of them."""
    seed = os.urandom(32).hex()
    ctx.step("scale: two relay processes sharing a port, circuits to one reservation")
    async with AsyncExitStack() as stack:
        first, addr = await stack.enter_async_context(
            relay_process("bulk", reuse_port=True, port=0, seed=seed)
        )
        second, _ = await stack.enter_async_context(
            relay_process("bulk", reuse_port=True, port=_port(addr), seed=seed)
        )
        pair = await stack.enter_async_context(
            spawn(worker_argv("relay-circuits", addr=addr), name="relay-circuits")
        )
        await pair.read_json()
        await pair.send_line(f"probe {attempts}")
        result = await pair.read_json()
        held = [int((await measure(r))["active_reservations"]) for r in (first, second)]
    ctx.record(
        [result["ok"] / attempts * 100],
        id="scale/multicore/relay_circuits_ok",
        group="scale",
        label="circuits that reach the target, 2 relay processes sharing a port",
        unit="%",
        params={"attempts": attempts, "ok": result["ok"], "reservations_by_process": held},
    )


async def multicore(ctx: Context, *, quick: bool, total: int) -> None:
    """Accept rate and upload throughput with 1 and 2 listener processes on one port
    (alternating, twice unless ``quick``), then the relay's limit when sharing a port."""
    clients = 2 if quick else 4
    size = 4 * MiB if quick else 64 * MiB
    seed = os.urandom(32).hex()
    accept: dict[int, list[float]] = {1: [], 2: []}
    upload: dict[int, list[float]] = {1: [], 2: []}
    spread: dict[int, list[int]] = {}
    for count in (1, 2) * (1 if quick else 2):
        ctx.step(f"scale: {count} listener process(es) on one port (SO_REUSEPORT)")
        async with _listeners(count, seed) as (children, addr):
            seconds, live, spread[count] = await _accept(children, addr, total, clients)
            accept[count].append(live / seconds)
            upload[count].append(await _upload(addr, clients, size))
    for count in (1, 2):
        params = {"listeners": count, "clients": clients, "count": total, "conns": spread[count]}
        ctx.record(
            accept[count],
            id=f"scale/multicore/accept/l{count}",
            group="scale",
            label=f"accept rate, {count} listener process(es) on one port, {clients} clients",
            unit="conn/s",
            params=params,
        )
        ctx.record(
            upload[count],
            id=f"scale/multicore/upload/l{count}",
            group="scale",
            label=f"upload, {clients} connections at once, {count} listener process(es)",
            unit="MB/s",
            params={**params, "bytes_each": size},
        )
    await _relay_sharing(ctx, 20 if quick else 100)
