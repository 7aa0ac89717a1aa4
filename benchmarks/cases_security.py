"""Security protocols compared in one run: TCP+Noise+Yamux against TCP+TLS+Yamux (libp2p TLS
1.3), as ``p2pstack perf`` uploads and ``p2pstack ping`` connection set-up times, each against
a ``p2pstack node --security ...`` of its own, the two alternating run by run."""

from __future__ import annotations

from typing import Final

from p2pstack.benchmarks.cases_throughput import CEILING_ID, plural
from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.peers import Listening, our_node
from p2pstack.benchmarks.procs import cli_argv, run_json
from p2pstack.protocols.perf import DEFAULT_WRITE_SIZE

#: ``--security`` name -> label.
PROTOCOLS: Final = {"noise": "Noise", "tls": "TLS 1.3"}
CONNECTS: Final = 5
"""Connections timed per ``p2pstack ping`` run (each its own process, so its own dial)."""


def upload_id(security: str, streams: int) -> str:
    """The id of a ``p2pstack perf --security`` upload figure."""
    return f"security/{security}/upload/s{streams}"


def connect_id(security: str) -> str:
    """The id of a connection set-up figure (TCP, multistream, handshake, muxer)."""
    return f"security/{security}/connect"


async def _upload(server: Listening, security: str, size: int, streams: int) -> float:
    argv = cli_argv("perf", server.addr, "--upload", str(size), "--streams", str(streams))
    result = await run_json([*argv, "--json", "--security", security], name="p2pstack perf")
    return float(result["upload_mb_s"])


async def _connect(server: Listening, security: str) -> float:
    argv = cli_argv("ping", server.addr, "--count", "1", "--json", "--security", security)
    return float((await run_json(argv, name="p2pstack ping"))["connect_ms"])


async def security(ctx: Context) -> None:
    """Noise and TLS: uploads over 1 and 16 streams, and connection set-up, same run."""
    cfg = ctx.config
    async with our_node(security="noise") as noise_node, our_node(security="tls") as tls_node:
        servers = {"noise": noise_node, "tls": tls_node}
        for streams in cfg.headline_streams:
            samples: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
            for index in range(cfg.repeat):
                for name, label in PROTOCOLS.items():
                    ctx.step(
                        f"TCP+{label}+Yamux perf, {plural(streams, 'stream')},"
                        f" run {index + 1}/{cfg.repeat}"
                    )
                    samples[name].append(await _upload(servers[name], name, cfg.large, streams))
            for name, label in PROTOCOLS.items():
                ctx.record(
                    samples[name],
                    id=upload_id(name, streams),
                    group="throughput",
                    label=f"TCP+{label}+Yamux (p2pstack perf), {plural(streams, 'stream')}",
                    unit="MB/s",
                    params={"bytes": cfg.large, "streams": streams, "write": DEFAULT_WRITE_SIZE},
                    compare={"tcp": CEILING_ID},
                )
        times: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
        for index in range(CONNECTS):
            for name, label in PROTOCOLS.items():
                ctx.step(f"TCP+{label}+Yamux connect, {index + 1}/{CONNECTS}")
                times[name].append(await _connect(servers[name], name))
        for name, label in PROTOCOLS.items():
            ctx.record(
                times[name],
                id=connect_id(name),
                group="latency",
                label=f"TCP+{label}+Yamux connection set-up (p2pstack ping connect_ms)",
                unit="ms",
                better="lower",
                params={"connections": CONNECTS},
            )
