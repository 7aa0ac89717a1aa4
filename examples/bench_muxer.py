"""Benchmark your own Yamux settings with the benchmark runner (``run_custom``).

Each :class:`~p2pstack.benchmarks.Case` builds two nodes on loopback TCP with the settings under
test (the receiver's window bounds what the sender may have in flight); ``run_custom`` runs
perf uploads for every stream count and write size of the config, repeats each and keeps the
median, like the built-in ``p2pstack bench`` matrix. Each case's median is printed, then its
ratio to the first case.

Run: ``python examples/bench_muxer.py`` (a quick run: 16 MiB uploads, a second or two), or
``python examples/bench_muxer.py --full --chart muxers.png --output muxers.json`` (1 and 16
streams, 256 MiB, 5 repeats; the chart needs ``pip install 'p2pstack[charts]'``; print the
JSON again with ``p2pstack bench --from-json muxers.json``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import trio

from p2pstack.benchmarks import BenchConfig, Case, run_custom
from p2pstack.muxers.yamux import YamuxConfig
from p2pstack.protocols.perf import DEFAULT_WRITE_SIZE

KiB, MiB = 1024, 1024 * 1024
QUICK = BenchConfig(size=16 * MiB, repeat=3, stream_counts=(1,), write_sizes=(DEFAULT_WRITE_SIZE,))
FULL = BenchConfig(
    size=256 * MiB, repeat=5, stream_counts=(1, 16), write_sizes=(DEFAULT_WRITE_SIZE,)
)
CASES = [
    Case.yamux("default"),
    Case.yamux(
        "small-window",
        YamuxConfig(initial_window=256 * KiB, max_window=256 * KiB, max_frame_size=16 * KiB),
        label="256 KiB window, 16 KiB frames",
    ),
]


async def main(full: bool, chart: Path | None, output: Path | None) -> None:
    record = await run_custom(CASES, config=FULL if full else QUICK, chart=chart)
    if output is not None:
        record.write(output)
    figures = record.results.figures
    for figure in figures:
        case = figure.params["stack_label"]
        where = f"{figure.params['streams']} stream(s), median of {len(figure.samples)}"
        print(f"{case:32} upload {figure.value:8.1f} MB/s  ({where})")
    first = [f for f in figures if f.params["stack"] == CASES[0].name]
    baseline = {(f.params["streams"], f.params["write"]): f.value for f in first}
    for figure in figures:
        base = baseline[figure.params["streams"], figure.params["write"]]
        case = figure.params["stack_label"]
        print(f"{case:32} ratio {figure.value / base:.2f} ({figure.params['streams']} stream(s))")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="1 and 16 streams, 256 MiB, 5 repeats")
    parser.add_argument("--chart", type=Path, help="write the PNG chart here")
    parser.add_argument("--output", type=Path, help="write the JSON record here")
    args = parser.parse_args()
    trio.run(main, args.full, args.chart, args.output)
