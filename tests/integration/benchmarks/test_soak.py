"""The soak run's bookkeeping and outputs (the run itself is ``scripts/soak``, not a test)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from p2pstack.benchmarks.soak.chart import write_chart
from p2pstack.benchmarks.soak.cli import build_parser
from p2pstack.benchmarks.soak.stats import Counters, Series, percentile, process_sample

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.0) == 1.0
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0


def test_series_window_starts_again() -> None:
    series = Series()
    for v in (0.001, 0.002, 0.003):
        series.add(v)
    window = series.take_window()
    assert window["n"] == 3
    assert window["p50_ms"] == 2.0
    assert series.take_window()["n"] == 0
    assert series.count == 3
    assert len(series.overall) == 3


def test_counter_notes_are_bounded_and_unwrap_groups() -> None:
    counters = Counters()
    counters.note("x", ExceptionGroup("g", [ValueError("inner")]))
    assert counters.notes == {"x: ValueError: inner": 1}
    for i in range(200):
        counters.note("y", ValueError(str(i)))
    assert len(counters.notes) == 51  # 50 distinct texts and "other"
    assert counters.notes["other"] == 151


def test_process_sample_of_self_and_of_nothing() -> None:
    import os

    sample = process_sample(os.getpid())
    assert sample is not None
    assert sample["rss_kib"] > 0
    assert sample["fds"] > 0
    assert process_sample(2**22 + 12345) is None


def test_chart_from_samples(tmp_path: Path) -> None:
    latency = {
        name: {"n": 1, "p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0}
        for name in ("ping", "rr", "connect", "relayed", "perf")
    }
    proc = {"rss_kib": 50_000, "fds": 20, "threads": 2}
    samples = [
        {"t": t, "node": proc, "relay": None if t == 20 else proc, "latency": latency,
         "counts": {"rst_connects": t * 10}}
        for t in (10, 20, 30)
    ]  # fmt: skip
    path = tmp_path / "soak.png"
    write_chart({"samples": samples, "summary": {"minutes": 0.5}}, path)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_soak_help_and_defaults() -> None:
    args = build_parser().parse_args([])
    assert args.minutes == 30.0
    done = subprocess.run(
        [str(REPO_ROOT / "scripts" / "soak"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "--minutes" in done.stdout
