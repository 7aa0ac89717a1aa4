"""Latency: ping round trips, connection set-up, stream open/close rate (ours and raw TCP)."""

from __future__ import annotations

from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.peers import our_node
from p2pstack.benchmarks.procs import cli_argv, run_json, spawn, worker_argv


async def _raw_tcp(ctx: Context) -> None:
    cfg = ctx.config
    ctx.step("raw TCP: connect, round trips, connection rate")
    async with spawn(worker_argv("tcp-echo"), name="tcp echo") as server:
        port = (await server.read_json())["port"]
        argv = worker_argv(
            "tcp-latency", port=port, connects=cfg.connects, pings=cfg.pings, rate=cfg.stream_rate
        )
        result = await run_json(argv, name="tcp-latency")
    common = {"group": "latency", "params": {"count": cfg.pings}}
    ctx.record(
        [result["rtt_ms"]],
        id="tcp/ping_rtt",
        label="raw TCP round trip, 32 bytes",
        unit="ms",
        better="lower",
        **common,
    )
    ctx.record(
        [result["connect_ms"]],
        id="tcp/connect",
        unit="ms",
        better="lower",
        label="raw TCP connect + first round trip",
        **common,
    )
    ctx.record(
        [result["rate"]],
        id="tcp/conn_rate",
        unit="conn/s",
        label="raw TCP connections/s (connect, 1-byte echo, close)",
        **common,
    )


async def latency(ctx: Context) -> None:
    """``p2pstack ping`` (RTT and connect_ms), fresh-connection set-up and stream rates."""
    cfg = ctx.config
    await _raw_tcp(ctx)
    refs = {"js": "js-js/ping_rtt", "py": "py-py/ping_rtt"}
    async with our_node() as server:
        rtts: list[float] = []
        connects: list[float] = []
        for index in range(cfg.repeat):
            ctx.step(f"p2pstack ping --count {cfg.pings}, run {index + 1}/{cfg.repeat}")
            argv = cli_argv("ping", server.addr, "--count", str(cfg.pings), "--json")
            result = await run_json(argv, name="p2pstack ping")
            rtts += [float(x) for x in result["rtts_ms"]]
            connects.append(float(result["connect_ms"]))
        ctx.record(
            rtts,
            id="ours/ping_rtt",
            group="latency",
            unit="ms",
            better="lower",
            label="ping RTT (p2pstack ping)",
            compare={"tcp": "tcp/ping_rtt", **refs},
        )
        ctx.record(
            connects,
            id="ours/connect",
            group="latency",
            unit="ms",
            better="lower",
            label="connect, new process (p2pstack ping connect_ms)",
            compare={"tcp": "tcp/connect", "js": "js-js/connect", "py": "py-py/connect"},
        )
        ctx.step(f"{cfg.connects} fresh connections, {cfg.stream_rate} streams")
        argv = worker_argv(
            "stack-latency",
            addr=server.addr,
            connects=cfg.connects,
            rate=cfg.stream_rate,
            concurrency=cfg.concurrency,
        )
        result = await run_json(argv, name="stack-latency")
    conn_refs = {"tcp": "tcp/connect", "js": "js-js/connect", "py": "py-py/connect"}
    ctx.record(
        [result["dial_ms"]],
        id="ours/dial",
        group="latency",
        unit="ms",
        better="lower",
        label=f"dial, warm process (median of {cfg.connects})",
        compare=conn_refs,
    )
    ctx.record(
        [result["first_stream_ms"]],
        id="ours/first_stream",
        group="latency",
        unit="ms",
        better="lower",
        label=f"dial to first negotiated stream (median of {cfg.connects})",
        compare=conn_refs,
    )
    ctx.record(
        [result["rate"]],
        id="ours/stream_rate",
        group="latency",
        unit="streams/s",
        label="stream open/echo/close, sequential",
        compare={"tcp": "tcp/conn_rate"},
    )
    ctx.record(
        [result["rate_concurrent"]],
        id="ours/stream_rate_concurrent",
        group="latency",
        unit="streams/s",
        label=f"stream open/echo/close, {cfg.concurrency} tasks",
        compare={"tcp": "tcp/conn_rate"},
    )
