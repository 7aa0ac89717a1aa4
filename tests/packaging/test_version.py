"""``p2pstack --version``: the installed distribution's version, or a plain word without one."""

from __future__ import annotations

import importlib.metadata
import subprocess

import pytest

from p2pstack.cli import main as cli_main
from tests.helpers import SCRIPT


def test_version_flag_prints_the_distribution_version() -> None:
    done = subprocess.run(
        [str(SCRIPT), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"p2pstack {importlib.metadata.version('p2pstack')}"


def test_version_without_installed_metadata(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with pytest.raises(SystemExit) as stopped:
        cli_main.main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == "p2pstack unknown (not installed)"
