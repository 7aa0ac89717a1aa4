"""Memory per idle connection and per open stream (and per raw TCP connection), both ends."""

from __future__ import annotations

from typing import Any, Final

from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.procs import spawn, worker_argv

SIDES: Final = ("client", "server")


async def _measure(kind: str, mode: str, count: int) -> dict[str, float]:
    """Bytes per item for each side and probe (``client_traced``, ``server_rss``, ...)."""
    async with spawn(worker_argv("mem-server", kind=kind, count=count), name="mem-server") as srv:
        where: dict[str, Any] = dict(await srv.read_json())
        params = {"kind": kind, "mode": mode, "count": count, **where}
        async with spawn(worker_argv("mem-client", **params), name="mem-client") as client:
            probes: dict[str, dict[str, dict[str, int]]] = {}
            for _ in ("base", "loaded"):
                phase = await client.read_json()
                await srv.send_line("measure")
                probes[phase.pop("phase")] = {"client": phase, "server": await srv.read_json()}
                await client.send_line("next")
            await client.wait()
    base, loaded = probes["base"], probes["loaded"]
    return {
        f"{side}_{probe}": (loaded[side][probe] - base[side][probe]) / count
        for side in SIDES
        for probe in ("traced", "rss")
    }


def _record(ctx: Context, prefix: str, what: str, per: dict[str, float], ref: str | None) -> None:
    for side in SIDES:
        for probe, how in (("traced", "tracemalloc"), ("rss", "RSS")):
            suffix = f"{side}_{probe}"
            ctx.record(
                [per[suffix] / 1024],
                id=f"{prefix}/{suffix}",
                group="memory",
                label=f"{what}, {'dialer' if side == 'client' else 'listener'} ({how})",
                unit="KiB",
                better="lower",
                params={"count": ctx.config.memory_count},
                compare={"tcp": f"{ref}/{suffix}"} if ref else {},
            )


async def memory(ctx: Context) -> None:
    """1,000 (``--memory-count``) idle connections, then streams on one connection."""
    count = ctx.config.memory_count
    ctx.step(f"memory: {count} raw TCP connections")
    _record(ctx, "tcp/mem_conn", "raw TCP connection", await _measure("tcp", "conns", count), None)
    ctx.step(f"memory: {count} idle connections")
    per_conn = await _measure("stack", "conns", count)
    _record(ctx, "ours/mem_conn", "idle connection", per_conn, "tcp/mem_conn")
    ctx.step(f"memory: {count} open streams")
    per_stream = await _measure("stack", "streams", count)
    _record(ctx, "ours/mem_stream", "open stream", per_stream, None)
