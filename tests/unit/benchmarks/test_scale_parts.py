"""The pieces of the dial and scale cases that need no network: levels, turns, the chart."""

from __future__ import annotations

from pathlib import Path

from p2pstack.benchmarks.cases_scale import levels
from p2pstack.benchmarks.chart_scale import write_scale_chart
from p2pstack.benchmarks.figures import Figure, Results
from p2pstack.benchmarks.record import RunRecord
from p2pstack.benchmarks.worker.breakdown import turns


def test_levels_follow_the_memory_count() -> None:
    assert levels(1000) == (100, 1000, 10000)
    assert levels(50) == (5, 50)
    assert levels(5) == (1, 5)


def test_turns_alternate_local_work_and_waits() -> None:
    events = [(1.0, "send", 10), (1.5, "recv", 20), (1.6, "recv", 5), (2.0, "send", 7)]
    folded = turns(0.5, events)
    assert [t["kind"] for t in folded] == ["local", "wait", "local"]
    assert [round(t["ms"]) for t in folded] == [500, 500, 500]
    assert [t["bytes"] for t in folded] == [10, 25, 7]


def _scale_record() -> RunRecord:
    results = Results()
    for count, kib in ((100, 60.0), (1000, 40.0)):
        for prefix in ("scale/conn_rss/", "scale/conn_traced/", "scale/idle_cpu_total/"):
            results.add(
                Figure(
                    id=f"{prefix}{count}",
                    group="scale",
                    label="x",
                    value=kib,
                    unit="KiB",
                    params={"count": count},
                )
            )
    for clients in (1, 4):
        results.add(
            Figure(
                id=f"scale/accept_rate/c{clients}",
                group="scale",
                label="x",
                value=300.0,
                unit="conn/s",
                params={"clients": clients},
            )
        )
    results.add(
        Figure(
            id="scale/stream_rate/t10",
            group="scale",
            label="x",
            value=2000.0,
            unit="streams/s",
            params={"tasks": 10},
        )
    )
    return RunRecord(machine={}, config={}, command="test", started="now", results=results)


def test_the_scale_chart_is_drawn(tmp_path: Path) -> None:
    png = tmp_path / "scale.png"
    assert write_scale_chart(_scale_record(), png)
    assert png.stat().st_size > 0


def test_no_scale_figures_no_chart(tmp_path: Path) -> None:
    record = RunRecord(machine={}, config={}, command="test", started="now")
    assert not write_scale_chart(record, tmp_path / "none.png")
