"""Relayed throughput: a ``p2pstack relay --profile bulk`` between two p2pstack nodes.

Three processes on loopback (relay, listener behind it, ``p2pstack perf`` as the dialler);
the same listener is also measured directly, in the same run, so the ratio is fair. The
relay's cost is its CPU time (user + system, from /proc) per GiB carried. The listener's CPU
per GiB is compared too, relayed against direct: a relayed connection runs Noise twice at
each end (its own session inside the circuit, and the one to the relay), so each end costs
more per byte, which bounds the ratio on a machine with few cores.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any, Final

from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.procs import PERF_ARGS, BenchError, cli_argv, run_json, spawn

LISTEN: Final = "/ip4/127.0.0.1/tcp/0"
GiB: Final = 1 << 30


def _addr(info: dict[str, Any], *, relayed: bool) -> str:
    for addr in info.get("listen_addrs", []):
        if "/tcp/" in addr and ("/p2p-circuit" in addr) == relayed:
            return str(addr)
    raise BenchError(f"no {'relayed' if relayed else 'direct'} TCP address in {info}")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0.0 when unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _upload(addr: str, size: int, listener: int) -> tuple[float, float]:
    """Upload ``size`` bytes to ``addr``: (MB/s, the listener's CPU seconds per GiB)."""
    before = _cpu_seconds(listener)
    argv = cli_argv("perf", addr, "--upload", str(size), "--json")
    mb_s = float((await run_json(argv, name="p2pstack perf"))["upload_mb_s"])
    return mb_s, (_cpu_seconds(listener) - before) * GiB / size


async def relay(ctx: Context) -> None:
    """Relayed vs direct ``p2pstack perf`` uploads, and the relay's CPU cost per GiB."""
    cfg = ctx.config
    size = cfg.large
    relay_argv = cli_argv("relay", "--listen", LISTEN, "--profile", "bulk")
    async with spawn(relay_argv, name="p2pstack relay", terminate=True) as relay_child:
        relay_addr = _addr(await relay_child.read_json(), relayed=False)
        node_argv = cli_argv("node", "--listen", LISTEN, "--relay-via", relay_addr, *PERF_ARGS)
        async with spawn(node_argv, name="p2pstack node behind the relay", terminate=True) as node:
            info = await node.read_json()
            direct_addr, relayed_addr = _addr(info, relayed=False), _addr(info, relayed=True)
            direct: list[float] = []
            relayed: list[float] = []
            cpu: list[float] = []
            listener_cpu: list[float] = []
            for index in range(cfg.repeat):
                ctx.step(f"relay: direct upload, run {index + 1}/{cfg.repeat}")
                mb_s, direct_cpu = await _upload(direct_addr, size, node.pid)
                direct.append(mb_s)
                ctx.step(f"relay: upload through the bulk relay, run {index + 1}/{cfg.repeat}")
                before = _cpu_seconds(relay_child.pid)
                mb_s, relayed_cpu = await _upload(relayed_addr, size, node.pid)
                relayed.append(mb_s)
                cpu.append((_cpu_seconds(relay_child.pid) - before) * GiB / size)
                if direct_cpu > 0:
                    listener_cpu.append(relayed_cpu / direct_cpu)
    params = {"bytes": size, "profile": "bulk"}
    ctx.record(
        direct,
        id="relay/direct",
        group="relay",
        label="TCP+Noise+Yamux upload, direct (same listener)",
        unit="MB/s",
        params=params,
    )
    ctx.record(
        relayed,
        id="relay/bulk",
        group="relay",
        label="upload through a p2pstack relay (bulk profile)",
        unit="MB/s",
        params=params,
    )
    ratios = [r / d for r, d in zip(relayed, direct, strict=True) if d > 0]
    ctx.record(
        ratios or [0.0],
        id="relay/ratio",
        group="relay",
        label="relayed / direct throughput (same run, paired)",
        unit="x",
        params=params,
        note=f"median direct {statistics.median(direct):.0f} MB/s" if direct else None,
    )
    ctx.record(
        cpu,
        id="relay/cpu_per_gib",
        group="relay",
        label="relay CPU time per GiB relayed (user + system)",
        unit="s/GiB",
        better="lower",
        params=params,
    )
    ctx.record(
        listener_cpu or [0.0],
        id="relay/listener_cpu_ratio",
        group="relay",
        label="listener CPU per GiB, relayed / direct (paired; Noise twice when relayed)",
        unit="x",
        better="lower",
        params=params,
    )
