"""The quick benchmark mode runs end to end and writes a well-formed JSON document.

Figures are printed, never compared with wall-clock expectations: this machine is shared.
Only presence and positivity are asserted. The peers (js, py, Go) must be installed, as for
the interop tests (scripts/setup-interop-peers.sh).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from p2pstack.benchmarks.config import CASES
from p2pstack.benchmarks.figures import REFERENCES

REPO_ROOT = Path(__file__).resolve().parents[3]

#: Figures the quick run must produce (one per kind of measurement).
EXPECTED = (
    "tcp/ceiling",
    "matrix/tcp/s1/w64K",
    "matrix/yamux-mem/s16/w64K",
    "matrix/tcp-yamux/s16/w64K",
    "matrix/tcp-noise-yamux/s1/w64K",
    "ours/upload/s1",
    "ours/upload/s16",
    "ours/ping_rtt",
    "ours/connect",
    "ours/first_stream",
    "ours/stream_rate",
    "ours/mem_conn/client_traced",
    "ours/mem_stream/server_rss",
    "ws/upload/ratio",
    "ws/download/ratio",
    "relay/ratio",
    "relay/cpu_per_gib",
    "relay/listener_cpu_ratio",
    "tcp/ping_rtt",
    "js-js/upload",
    "ours-js/upload",
    "js-ours/ping_rtt",
    "py-py/upload",
    "py-ours/connect",
    "ours-py/upload",
    "go-go/upload/s1",
    "ours-go/yamux-upload/s16",
    "go-ours/yamux-upload/s1",
    "ours/dial/total",
    "ours/dial/turn1",
    "ours/dial/cpu/ed25519_verify",
    "scale/conn_rss/50",
    "scale/conn_traced/50",
    "scale/idle_cpu_total/50",
    "scale/accept_rate/c2",
    "scale/stream_rate/t10",
    "scale/relay_rsv_rss/20",
    "scale/relay_rsv_max",
    "scale/relay_circuits/default",
    "scale/relay_circuits/bulk",
    "scale/relay_circuit_cpu/bulk",
    "scale/multicore/accept/l1",
    "scale/multicore/accept/l2",
    "scale/multicore/upload/l2",
    "scale/multicore/relay_circuits_ok",
)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    done = subprocess.run(
        [sys.executable, "-m", "p2pstack.benchmarks", "--quick", "--json", "--output", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr, out


def test_quick_run_prints_its_figures(
    quick_run: tuple[dict[str, Any], str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    document, report, _ = quick_run
    with capsys.disabled():
        print("\n" + report)
    assert "Figures" in report
    assert "Targets" in report
    # In the repository every peer is installed: a skipped or failed case fails the test.
    assert not [n for n in document["notes"] if "failed" in n or "skipped" in n]


def test_quick_run_document_is_well_formed(quick_run: tuple[dict[str, Any], str, Path]) -> None:
    document, _, path = quick_run
    assert json.loads(path.read_text()) == document
    assert path.with_suffix(".png").stat().st_size > 0
    assert document["format"] == 1
    assert document["machine"]["nproc"] >= 1
    assert document["config"]["cases"] == list(CASES)
    figures = {f["id"]: f for f in document["figures"]}
    missing = [figure_id for figure_id in EXPECTED if figure_id not in figures]
    assert not missing
    for figure in figures.values():
        assert figure["value"] > 0, figure
        assert figure["samples"]
        assert all(sample >= 0 for sample in figure["samples"])
        assert set(figure["ratios"]) <= set(figure["compare"]) <= set(REFERENCES)
        assert all(ratio > 0 for ratio in figure["ratios"].values())
    assert set(figures["ours/upload/s1"]["ratios"]) == {"tcp", "js", "py"}
    assert set(figures["ours-go/yamux-upload/s1"]["ratios"]) == {"tcp", "go"}


def test_p2pstack_bench_runs_a_selection(tmp_path: Path) -> None:
    out = tmp_path / "one.json"
    argv = ["bench", "--quick", "--cases", "ceiling,matrix", "--stream-counts", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "p2pstack.cli.main", *argv, "--no-chart", "--output", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "raw TCP" in done.stdout
    document = json.loads(out.read_text())
    ids = {f["id"] for f in document["figures"]}
    assert "matrix/tcp-noise-yamux/s2/w64K" in ids
    assert document["command"].startswith("p2pstack bench")
    assert not out.with_suffix(".png").exists()


def test_bad_flags_are_one_line_errors() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "p2pstack.cli.main", "bench", "--repeat", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "repeat must be at least 1" in done.stderr
