"""Formatting, ratios, settings, the JSON record and the chart, on synthetic figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from rich.console import Console

from p2pstack.benchmarks.chart import write_chart
from p2pstack.benchmarks.config import QUICK, BenchConfig, add_arguments, config_from_args
from p2pstack.benchmarks.figures import Figure, Results, compute_ratios, from_samples, is_better
from p2pstack.benchmarks.markdown import to_markdown
from p2pstack.benchmarks.record import RunRecord
from p2pstack.benchmarks.report import format_ratio, format_value, print_report, targets


def _figure(figure_id: str, value: float, **fields: object) -> Figure:
    defaults: dict[str, object] = {"group": "throughput", "label": figure_id, "unit": "MB/s"}
    return Figure(id=figure_id, value=value, **(defaults | fields))  # type: ignore[arg-type]


def _record() -> RunRecord:
    results = Results()
    results.add(_figure("tcp/ceiling", 2000.0))
    results.add(_figure("js-js/upload", 300.0, group="peers"))
    results.add(
        _figure("ours/upload/s1", 800.0, compare={"tcp": "tcp/ceiling", "js": "js-js/upload"})
    )
    results.add(_figure("ours/ping_rtt", 0.25, unit="ms", better="lower", group="latency"))
    for stack, value in (("tcp", 1800.0), ("tcp-noise-yamux", 500.0)):
        for streams in (1, 16):
            results.add(
                _figure(
                    f"matrix/{stack}/s{streams}/w64K",
                    value / streams,
                    group="matrix",
                    params={"stack": stack, "streams": streams, "write": 65536},
                    compare={"tcp": "tcp/ceiling", "js": "missing/figure"},
                )
            )
    results.note("py-libp2p: not measured: not installed")
    compute_ratios(results)
    return RunRecord(
        machine={"nproc": 2, "cpu_model": "test"},
        config=BenchConfig().to_json(),
        command="python -m p2pstack.benchmarks",
        started="2026-01-01T00:00:00+00:00",
        duration_s=1.0,
        results=results,
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(2329.4, "2,329"), (137.0, "137"), (45.67, "45.7"), (3.14159, "3.14"), (0.2345, "0.234")],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text
    assert format_value(value, "ms") == f"{text} ms"


def test_format_ratio() -> None:
    assert format_ratio(0.5234) == "0.52x"
    assert format_ratio(12.34) == "12.3x"


def test_ratios_use_only_measured_references() -> None:
    record = _record()
    ours = record.results.get("ours/upload/s1")
    assert ours is not None
    assert ours.ratios == pytest.approx({"tcp": 0.4, "js": 800 / 300})
    cell = record.results.get("matrix/tcp/s16/w64K")
    assert cell is not None
    assert set(cell.ratios) == {"tcp"}


def test_is_better_depends_on_direction() -> None:
    assert is_better(_figure("a", 1.0), 1.5)
    assert not is_better(_figure("a", 1.0), 0.5)
    assert is_better(_figure("b", 1.0, better="lower"), 0.5)


def test_results_replace_figures_with_the_same_id() -> None:
    results = Results()
    results.add(from_samples([1.0, 3.0, 2.0], id="x", group="g", label="x", unit="ms"))
    results.add(from_samples([5.0], id="x", group="g", label="x", unit="ms"))
    assert [f.value for f in results.figures] == [5.0]
    with pytest.raises(ValueError, match="at least one sample"):
        from_samples([], id="y", group="g", label="y", unit="ms")


def test_targets() -> None:
    verdicts = {what: met for what, _, met in targets(_record())}
    assert verdicts["TCP+Noise+Yamux, 1 stream: >= 2x js-libp2p"] is True
    assert verdicts["TCP+Noise+Yamux, 1 stream: >= 35% raw TCP"] is True
    assert verdicts["TCP+Noise+Yamux, 16 streams: >= 2x js-libp2p"] is None
    assert verdicts["ping RTT median <= 0.3 ms"] is True
    assert verdicts["connect (p2pstack ping connect_ms) <= 10 ms"] is None


def test_report_prints_tables_and_notes() -> None:
    console = Console(record=True, width=160)
    print_report(console, _record())
    text = console.export_text()
    for expected in ("Upload MB/s by number of streams", "TCP+Noise+Yamux", "0.40x", "2.67x"):
        assert expected in text
    assert "py-libp2p: not measured" in text


def test_record_round_trips_through_json(tmp_path: Path) -> None:
    record = _record()
    path = tmp_path / "sub" / "run.json"
    record.write(path)
    assert RunRecord.from_json(json.loads(path.read_text())) == record


def test_chart_is_written(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    assert write_chart(_record(), path)
    assert path.read_bytes().startswith(b"\x89PNG")
    empty = RunRecord(machine={}, config={}, command="", started="")
    assert not write_chart(empty, tmp_path / "none.png")


def _parse(*argv: str) -> BenchConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from_args(parser.parse_args(list(argv)))


def test_flags() -> None:
    assert _parse() == BenchConfig()
    assert _parse("--quick") == QUICK
    config = _parse("--quick", "--size", "8M", "--stream-counts", "1,4", "--write-sizes", "16K,1M")
    assert config.size == 8 << 20
    assert config.stream_counts == (1, 4)
    assert config.write_sizes == (16 << 10, 1 << 20)
    assert config.repeat == QUICK.repeat
    assert _parse("--cases", "js,go", "--skip", "go").cases == ("js",)
    with pytest.raises(SystemExit):
        _parse("--cases", "nonsense")
    with pytest.raises(ValueError, match="repeat"):
        _parse("--repeat", "0")


def test_markdown_tables() -> None:
    text = to_markdown(_record())
    assert "| layer | write | 1 stream | 16 streams |" in text
    assert "| TCP+Noise+Yamux | 64 KiB | 500 (0.25x) | 31.2 (0.02x) |" in text
    assert "| ours/upload/s1 | 800 MB/s | 0.40x | 2.67x | - | - |" in text
    assert "- py-libp2p: not measured: not installed" in text
