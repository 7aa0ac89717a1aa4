"""``p2pstack bench --from-json FILE --chart PNG`` draws the chart of a recorded run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from p2pstack.benchmarks.cases_throughput import STACKS, matrix_id
from p2pstack.benchmarks.config import KiB
from p2pstack.benchmarks.figures import Figure, Results
from p2pstack.benchmarks.record import RunRecord


def _record(*, matrix: bool) -> RunRecord:
    figures = [
        Figure(
            id=matrix_id(stack, streams, 64 * KiB),
            group="matrix",
            label=f"{stack}, {streams} streams",
            value=100.0 * streams,
            unit="MB/s",
            params={"stack": stack, "streams": streams, "write": 64 * KiB},
        )
        for stack in STACKS
        for streams in (1, 16)
        if matrix
    ]
    figures.append(
        Figure(id="tcp/ceiling", group="throughput", label="raw TCP", value=3000.0, unit="MB/s")
    )
    return RunRecord(
        machine={"nproc": 2},
        config={},
        command="p2pstack bench",
        started="2026-01-01T00:00:00+00:00",
        results=Results(figures, ["a note"]),
    )


def _from_json(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "p2pstack.cli.main", "bench", "--from-json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_from_json_draws_the_chart(tmp_path: Path) -> None:
    recorded = tmp_path / "run.json"
    _record(matrix=True).write(recorded)
    chart = tmp_path / "charts" / "run.png"
    done = _from_json(str(recorded), "--chart", str(chart))
    assert done.returncode == 0, done.stderr
    assert "raw TCP" in done.stdout
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert f"wrote {chart}" in " ".join(done.stderr.split())


def test_from_json_without_chart_flag_writes_no_file(tmp_path: Path) -> None:
    recorded = tmp_path / "run.json"
    _record(matrix=True).write(recorded)
    done = _from_json(str(recorded), "--markdown")
    assert done.returncode == 0, done.stderr
    assert "| layer | write |" in done.stdout
    assert list(tmp_path.iterdir()) == [recorded]


def test_from_json_without_matrix_cannot_draw(tmp_path: Path) -> None:
    recorded = tmp_path / "run.json"
    _record(matrix=False).write(recorded)
    chart = tmp_path / "run.png"
    done = _from_json(str(recorded), "--chart", str(chart))
    assert done.returncode == 1
    assert "no stream-count matrix" in done.stderr
    assert not chart.exists()


def test_chart_and_no_chart_exclude_each_other(tmp_path: Path) -> None:
    done = _from_json(str(tmp_path / "run.json"), "--chart", "x.png", "--no-chart")
    assert done.returncode == 2
    assert "not allowed with" in done.stderr
