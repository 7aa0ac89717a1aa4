"""Benchmark your own Yamux settings: perf between two nodes, one run per configuration.

Both nodes use the configuration under test (the receiver's window bounds what the sender
may have in flight). Each configuration runs ``REPEATS`` transfers of ``SIZE`` bytes each
way; the median rates are printed, then each configuration's ratio to the first.

Run: ``python examples/bench_muxer.py`` (loopback TCP; a few seconds). For the built-in cases,
repeats and charts use ``p2pstack bench``.
"""

from __future__ import annotations

import statistics

import trio

from p2pstack import open_node
from p2pstack.muxers.yamux import YamuxConfig, yamux
from p2pstack.protocols.perf import PerfResult, perf, perf_peer

SIZE = 16 * 1024 * 1024
REPEATS = 3
KiB = 1024
CONFIGS = {
    "default": YamuxConfig(),
    "256 KiB window, 16 KiB frames": YamuxConfig(
        initial_window=256 * KiB, max_window=256 * KiB, max_frame_size=16 * KiB
    ),
}


async def measure(config: YamuxConfig) -> list[PerfResult]:
    """``REPEATS`` perf transfers between a server and a client that both use ``config``."""
    async with (
        open_node(
            listen=["/ip4/127.0.0.1/tcp/0"], muxers=[yamux(config)], protocols=[perf()]
        ) as server,
        open_node(muxers=[yamux(config)]) as client,
    ):
        conn = await client.dial(server.addrs[0])
        return [await perf_peer(client, conn, upload=SIZE, download=SIZE) for _ in range(REPEATS)]


async def main() -> None:
    medians: dict[str, float] = {}
    for name, config in CONFIGS.items():
        results = await measure(config)
        up = statistics.median(r.upload_mb_s for r in results)
        down = statistics.median(r.download_mb_s for r in results)
        medians[name] = (up + down) / 2
        print(f"{name:32} upload {up:8.1f} MB/s  download {down:8.1f} MB/s")
    baseline = next(iter(medians.values()))
    for name, rate in medians.items():
        print(f"{name:32} ratio {rate / baseline:.2f}")


if __name__ == "__main__":
    trio.run(main)
