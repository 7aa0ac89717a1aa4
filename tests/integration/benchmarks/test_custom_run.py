"""``run_custom``: the user's own stack configurations through the benchmark runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2pstack.benchmarks import BenchConfig, Case, RunRecord, run_custom
from p2pstack.benchmarks.figures import Figure
from p2pstack.benchmarks.markdown import to_markdown
from p2pstack.host.config import NodeConfig
from p2pstack.muxers.yamux import YamuxConfig, yamux

KiB, MiB = 1024, 1024 * 1024


async def test_cases_are_measured_with_repeats_medians_record_and_chart(tmp_path: Path) -> None:
    small = YamuxConfig(initial_window=256 * KiB, max_window=256 * KiB)
    cases = [
        Case.yamux("default"),
        Case(
            name="small",
            label="small window",
            muxers=lambda: [yamux(small)],
            config=NodeConfig(dial_timeout=5),
        ),
    ]
    config = BenchConfig(size=1 * MiB, repeat=3, stream_counts=(1, 2), write_sizes=(64 * KiB,))
    seen: list[Figure] = []
    chart = tmp_path / "custom.png"
    record = await run_custom(cases, config=config, chart=chart, on_figure=seen.append)
    ids = [f.id for f in record.results.figures]
    assert ids == [
        "custom/default/s1/w64K",
        "custom/default/s2/w64K",
        "custom/small/s1/w64K",
        "custom/small/s2/w64K",
    ]
    assert [f.id for f in seen] == ids
    for figure in record.results.figures:
        assert figure.group == "matrix"
        assert figure.unit == "MB/s"
        assert len(figure.samples) == 3
        assert figure.value == sorted(figure.samples)[1] > 0  # the median
        assert figure.params["bytes"] == 1 * MiB
    assert chart.stat().st_size > 1000
    # the JSON record reads back, and the report shows the cases by their labels
    path = tmp_path / "custom.json"
    record.write(path)
    again = RunRecord.from_json(json.loads(path.read_text()))
    table = to_markdown(again)
    assert "| default | 64 KiB |" in table
    assert "| small window | 64 KiB |" in table


async def test_cases_need_unique_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        await run_custom([Case.yamux("a"), Case.yamux("a")])
    with pytest.raises(ValueError, match="at least one"):
        await run_custom([])
