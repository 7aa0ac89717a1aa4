"""The same loopback figures for js-libp2p, py-libp2p (their peer CLIs) and HashiCorp's Go
yamux (raw yamux over plain TCP, our muxer against it at equal write sizes)."""

from __future__ import annotations

import statistics
from typing import Any, Final

from p2pstack.benchmarks.cases_throughput import CEILING_ID, plural
from p2pstack.benchmarks.config import KiB, MiB
from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.peers import (
    Impl,
    go_missing,
    go_send,
    go_sink,
    our_node,
    peer_command,
    peer_dial,
    peer_node,
)
from p2pstack.benchmarks.procs import cli_argv, run_json, spawn, worker_argv
from p2pstack.cli.sizes import format_size

NAMES: Final = {"js": "js-libp2p", "py": "py-libp2p", "ours": "p2pstack"}
GO_WRITE: Final = 64 * KiB
GO_WINDOW: Final = 16 * MiB


async def _ours_dial(addr: str, *, pings: int, upload: int) -> dict[str, Any]:
    """Our CLI against a peer: ``p2pstack ping`` then ``p2pstack perf``, one JSON-like dict."""
    ping = await run_json(cli_argv("ping", addr, "--count", str(pings), "--json"), name="ping")
    perf = await run_json(cli_argv("perf", addr, "--upload", str(upload), "--json"), name="perf")
    return {
        "connect_ms": ping["connect_ms"],
        "ping_rtts_ms": ping["rtts_ms"],
        "perf": {"upload_mb_s": perf["upload_mb_s"]},
    }


async def _pair(ctx: Context, client: str, server: str, addr: str, ref: Impl) -> None:
    """``repeat`` dials from ``client`` to the ``server`` at ``addr``; three figures."""
    cfg = ctx.config
    uploads: list[float] = []
    rtts: list[float] = []
    connects: list[float] = []
    for index in range(cfg.repeat):
        ctx.step(f"{NAMES[client]} -> {NAMES[server]}, run {index + 1}/{cfg.repeat}")
        if client == "ours":
            result = await _ours_dial(addr, pings=cfg.pings, upload=cfg.large)
        else:
            result = await peer_dial(ref, addr, pings=cfg.pings, upload=cfg.large)
        uploads.append(float(result["perf"]["upload_mb_s"]))
        rtts.append(statistics.median(float(x) for x in result["ping_rtts_ms"]))
        connects.append(float(result["connect_ms"]))
    pair = f"{client}-{server}"
    own = pair == f"{ref}-{ref}"
    what = f"{NAMES[client]} -> {NAMES[server]}"
    group = "peers"

    def compare(metric: str, tcp: str) -> dict[str, str]:
        return {"tcp": tcp} if own else {"tcp": tcp, ref: f"{ref}-{ref}/{metric}"}

    ctx.record(
        uploads,
        id=f"{pair}/upload",
        group=group,
        unit="MB/s",
        label=f"{what}, 1 stream upload {format_size(cfg.large)}",
        params={"bytes": cfg.large},
        compare=compare("upload", CEILING_ID),
    )
    ctx.record(
        rtts,
        id=f"{pair}/ping_rtt",
        group=group,
        unit="ms",
        better="lower",
        label=f"{what}, ping RTT",
        compare=compare("ping_rtt", "tcp/ping_rtt"),
    )
    ctx.record(
        connects,
        id=f"{pair}/connect",
        group=group,
        unit="ms",
        better="lower",
        label=f"{what}, connect",
        compare=compare("connect", "tcp/connect"),
    )


async def _libp2p(ctx: Context, impl: Impl) -> None:
    missing = peer_command(impl).missing
    if missing:
        ctx.results.note(f"{NAMES[impl]}: skipped: {missing}")
        return
    async with peer_node(impl) as server:
        await _pair(ctx, impl, impl, server.addr, impl)
        await _pair(ctx, "ours", impl, server.addr, impl)
    async with our_node() as server:
        await _pair(ctx, impl, "ours", server.addr, impl)
    ctx.results.note(
        f"{NAMES[impl]}: its peer CLI measures perf over one stream only; "
        "multi-stream figures have no counterpart"
    )


async def js(ctx: Context) -> None:
    """js-libp2p -> js-libp2p, p2pstack -> js-libp2p, js-libp2p -> p2pstack."""
    await _libp2p(ctx, "js")


async def py(ctx: Context) -> None:
    """py-libp2p -> py-libp2p, p2pstack -> py-libp2p, py-libp2p -> p2pstack."""
    await _libp2p(ctx, "py")


async def _our_yamux_send(port: int, streams: int, total: int, repeat: int) -> list[float]:
    argv = worker_argv(
        "yamux-send", port=port, streams=streams, total=total, write=GO_WRITE, repeat=repeat
    )
    return [float(x) for x in (await run_json(argv, name="yamux-send"))["mb_s"]]


_GO_PAIRS: Final = {
    "go-go": "go-yamux -> go-yamux",
    "ours-go": "p2pstack -> go-yamux",
    "go-ours": "go-yamux -> p2pstack",
    "ours-ours": "p2pstack -> p2pstack",
}


def _record_go(ctx: Context, pair: str, streams: int, samples: list[float]) -> None:
    reference = f"go-go/upload/s{streams}"
    figure_id = reference if pair == "go-go" else f"{pair}/yamux-upload/s{streams}"
    ctx.record(
        samples,
        id=figure_id,
        group="go-yamux",
        label=f"{_GO_PAIRS[pair]}, TCP+Yamux, {plural(streams, 'stream')}, 64 KiB writes",
        unit="MB/s",
        params={"bytes": ctx.config.large, "write": GO_WRITE, "streams": streams},
        compare={"tcp": CEILING_ID} | ({} if pair == "go-go" else {"go": reference}),
    )


async def _go_runs(ctx: Context, port: int, streams: int) -> list[float]:
    per_stream = ctx.config.large // streams
    return [
        await go_send(
            port, streams=streams, per_stream=per_stream, write=GO_WRITE, window=GO_WINDOW
        )
        for _ in range(ctx.config.repeat)
    ]


async def go(ctx: Context) -> None:
    """Go yamux <-> our yamux over plain TCP, 64 KiB writes, one-way sink transfers."""
    missing = go_missing()
    if missing:
        ctx.results.note(f"go-yamux: skipped: {missing}")
        return
    cfg = ctx.config
    async with go_sink(GO_WINDOW) as port:
        for streams in cfg.headline_streams:
            ctx.step(f"go-yamux -> go-yamux, {plural(streams, 'stream')}")
            _record_go(ctx, "go-go", streams, await _go_runs(ctx, port, streams))
            ctx.step(f"p2pstack yamux -> go-yamux, {plural(streams, 'stream')}")
            samples = await _our_yamux_send(port, streams, cfg.large, cfg.repeat)
            _record_go(ctx, "ours-go", streams, samples)
    async with spawn(worker_argv("yamux-sink"), name="yamux-sink") as server:
        port = int((await server.read_json())["port"])
        for streams in cfg.headline_streams:
            ctx.step(f"go-yamux -> p2pstack yamux, {plural(streams, 'stream')}")
            _record_go(ctx, "go-ours", streams, await _go_runs(ctx, port, streams))
            ctx.step(f"p2pstack yamux -> p2pstack yamux, {plural(streams, 'stream')}")
            samples = await _our_yamux_send(port, streams, cfg.large, cfg.repeat)
            _record_go(ctx, "ours-ours", streams, samples)
