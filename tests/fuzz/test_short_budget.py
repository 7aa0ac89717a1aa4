"""A short coverage-guided run of every target (atheris): it must find nothing.

atheris is part of the test set-up (the ``fuzz`` extra, installed by ``scripts/setup``): a
missing atheris fails this test, it does not skip it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from .runner import ROOT
from .targets import TARGETS

SECONDS_PER_TARGET = 1
JOBS = 2


def test_atheris_is_installed() -> None:
    assert importlib.util.find_spec("atheris") is not None, (
        "atheris is missing: scripts/setup installs the 'fuzz' extra"
    )


def test_every_target_for_a_second_finds_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "tests.fuzz.runner", "--all"),
            *("--seconds", str(SECONDS_PER_TARGET), "--jobs", str(JOBS)),
            *("--workdir", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = "\n".join(
        line for line in result.stdout.splitlines() if not line.startswith("INFO: Instrumenting")
    )
    assert result.returncode == 0, f"{report}\n{result.stderr[-3000:]}"
    assert "findings: none" in report, report
    lines = [line for line in report.splitlines() if line.startswith("ok ")]
    assert len(lines) == len(TARGETS), report
