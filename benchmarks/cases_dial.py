"""Dial latency taken apart: TCP connect, upgrade turns, first stream, per-dial CPU items."""

from __future__ import annotations

from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.peers import our_node
from p2pstack.benchmarks.procs import run_json, worker_argv

#: Step of the traced dial -> label.
STEP_LABELS = {
    "tcp_connect": "TCP connect",
    "upgrade": "upgrade (multistream, Noise XX, muxer proposal)",
    "open_stream": "open the first Yamux stream",
    "negotiate_first": "negotiate the first stream's protocol",
    "first_ping": "first 32-byte round trip on it",
    "total": "traced dial to first negotiated stream",
}


async def dial(ctx: Context) -> None:
    """Traced dials against a ``p2pstack node``: steps, wire turns, CPU items, full dial."""
    cfg = ctx.config
    ctx.step(f"{cfg.connects} traced dials")
    async with our_node() as server:
        argv = worker_argv(
            "dial-breakdown",
            addr=server.addr,
            connects=cfg.connects,
            cpu_repeat=20 if cfg.connects < 10 else 300,
        )
        result = await run_json(argv, name="dial-breakdown")
    common = {"group": "dial", "unit": "ms", "better": "lower"}
    for step, label in STEP_LABELS.items():
        low, high = result["spread_ms"][step]
        ctx.record(
            [result["steps_ms"][step]],
            id=f"ours/dial/{step}",
            label=f"dial step: {label}",
            params={"count": cfg.connects, "min": low, "max": high},
            **common,
        )
    for index, turn in enumerate(result["turns"]):
        ctx.record(
            [max(turn["ms"], 1e-6)],
            id=f"ours/dial/turn{index}",
            label=f"dial turn {index}: {turn['kind']} (then {turn['bytes']:g} bytes)",
            params={"count": cfg.connects, **turn},
            **common,
        )
    ctx.record(
        [result["node_first_stream_ms"]],
        id="ours/dial/node_first_stream",
        label="node.dial + new_stream (with identify, admission, events)",
        params={"count": cfg.connects, "node_dial_ms": result["node_dial_ms"]},
        **common,
    )
    for item, micros in result["cpu_us"].items():
        ctx.record(
            [micros],
            id=f"ours/dial/cpu/{item}",
            group="dial",
            unit="us",
            better="lower",
            label=f"CPU per call: {item}",
        )
