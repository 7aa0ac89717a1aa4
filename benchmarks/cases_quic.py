"""QUIC v1 against TCP+Noise+Yamux: ``p2pstack perf`` over 1 and 16 streams and the connect
time (handshake included), both to one node, paired per run."""

from __future__ import annotations

from typing import Any, Final

from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.procs import PERF_ARGS, BenchError, cli_argv, run_json, spawn

TCP_LISTEN: Final = "/ip4/127.0.0.1/tcp/0"
QUIC_LISTEN: Final = "/ip4/127.0.0.1/udp/0/quic-v1"
MAX_BYTES: Final = 32 * 1024 * 1024
"""Bytes per transfer at most (aioquic moves a few MB/s: a full-size transfer takes minutes)."""
STREAM_COUNTS: Final = (1, 16)


def _addr(info: dict[str, Any], *, quic: bool) -> str:
    for addr in info.get("listen_addrs", []):
        if ("/quic-v1/" in addr) == quic and "/p2p-circuit" not in addr:
            return str(addr)
    raise BenchError(f"no {'QUIC' if quic else 'TCP'} address in {info}")


async def _perf(addr: str, size: int, streams: int) -> dict[str, Any]:
    argv = cli_argv("perf", addr, "--upload", str(size), "--streams", str(streams), "--json")
    return await run_json(argv, name="p2pstack perf")


async def quic(ctx: Context) -> None:
    """Uploads over QUIC and over TCP to the same node, paired per run; connect times."""
    cfg = ctx.config
    size = min(cfg.size, MAX_BYTES)
    node_argv = cli_argv("node", "--listen", TCP_LISTEN, "--listen", QUIC_LISTEN, *PERF_ARGS)
    async with spawn(node_argv, name="p2pstack node (tcp + quic)", terminate=True) as node:
        info = await node.read_json()
        addrs = {"tcp": _addr(info, quic=False), "quic": _addr(info, quic=True)}
        connect: dict[str, list[float]] = {"tcp": [], "quic": []}
        for streams in STREAM_COUNTS:
            samples: dict[str, list[float]] = {"tcp": [], "quic": []}
            for index in range(cfg.repeat):
                for transport, addr in addrs.items():
                    ctx.step(f"{transport} upload, {streams} stream(s), run {index + 1}")
                    result = await _perf(addr, size, streams)
                    samples[transport].append(float(result["upload_mb_s"]))
                    connect[transport].append(float(result["connect_ms"]))
            params = {"bytes": size, "streams": streams}
            ctx.record(
                samples["quic"],
                id=f"quic/upload/s{streams}",
                group="quic",
                label=f"QUIC v1 upload, {streams} stream(s) (p2pstack perf)",
                unit="MB/s",
                params=params,
            )
            pairs = zip(samples["quic"], samples["tcp"], strict=True)
            ctx.record(
                [q / t for q, t in pairs if t > 0] or [0.0],
                id=f"quic/upload/s{streams}/ratio",
                group="quic",
                label=f"QUIC / TCP+Noise+Yamux upload, {streams} stream(s) (same node, paired)",
                unit="x",
                params=params,
            )
        for transport in ("quic", "tcp"):
            ctx.record(
                connect[transport],
                id=f"quic/connect/{transport}",
                group="quic",
                label=f"{transport.upper()} connect + handshake (p2pstack perf's connect_ms)",
                unit="ms",
                params={},
            )
