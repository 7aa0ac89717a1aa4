"""WebSocket throughput: ``p2pstack perf`` over ``/ws`` and over TCP against one node, same run."""

from __future__ import annotations

from typing import Any, Final

from p2pstack.benchmarks.cases_throughput import CEILING_ID
from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.procs import PERF_ARGS, BenchError, cli_argv, run_json, spawn

TCP_LISTEN: Final = "/ip4/127.0.0.1/tcp/0"
WS_LISTEN: Final = "/ip4/127.0.0.1/tcp/0/ws"


def _addr(info: dict[str, Any], *, ws: bool) -> str:
    for addr in info.get("listen_addrs", []):
        if ("/ws/" in addr) == ws and "/p2p-circuit" not in addr:
            return str(addr)
    raise BenchError(f"no {'WebSocket' if ws else 'TCP'} address in {info}")


async def _perf(addr: str, size: int, direction: str) -> float:
    argv = cli_argv("perf", addr, f"--{direction}", str(size), "--json")
    return float((await run_json(argv, name="p2pstack perf"))[f"{direction}_mb_s"])


async def websocket(ctx: Context) -> None:
    """Uploads and downloads over WebSocket and over TCP to the same node, paired per run."""
    cfg = ctx.config
    size = cfg.large
    node_argv = cli_argv("node", "--listen", TCP_LISTEN, "--listen", WS_LISTEN, *PERF_ARGS)
    async with spawn(node_argv, name="p2pstack node (tcp + ws)", terminate=True) as node:
        info = await node.read_json()
        addrs = {"tcp": _addr(info, ws=False), "ws": _addr(info, ws=True)}
        for direction in ("upload", "download"):
            samples: dict[str, list[float]] = {"tcp": [], "ws": []}
            for index in range(cfg.repeat):
                for transport, addr in addrs.items():
                    ctx.step(f"{transport} {direction}, run {index + 1}/{cfg.repeat}")
                    samples[transport].append(await _perf(addr, size, direction))
            params = {"bytes": size, "direction": direction}
            ctx.record(
                samples["ws"],
                id=f"ws/{direction}",
                group="websocket",
                label=f"WebSocket+Noise+Yamux {direction} (p2pstack perf)",
                unit="MB/s",
                params=params,
                compare={"tcp": CEILING_ID},
            )
            ratios = [w / t for w, t in zip(samples["ws"], samples["tcp"], strict=True) if t > 0]
            ctx.record(
                ratios or [0.0],
                id=f"ws/{direction}/ratio",
                group="websocket",
                label=f"WebSocket / TCP {direction} throughput (same node, paired)",
                unit="x",
                params=params,
            )
