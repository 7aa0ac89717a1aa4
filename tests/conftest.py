"""Suite-wide guards: p2pstack is imported only as ``p2pstack.*``, from the repository's files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OLD_ROOTS = ("stack", "transports", "muxers", "protocols", "benchmarks")


def pytest_configure(config: pytest.Config) -> None:
    """Fail fast when ``.dev/`` (scripts/devtree) is stale or p2pstack resolves elsewhere."""
    check = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "devtree"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode:
        raise pytest.UsageError(f"run scripts/devtree (or scripts/setup):\n{check.stderr}")
    import p2pstack

    where = Path(p2pstack.__file__).resolve()
    if not where.is_relative_to(REPO / "stack"):
        raise pytest.UsageError(f"p2pstack is imported from {where}, not from this repository")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No module was loaded under a repository folder's name (a class twice under two names)."""
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in OLD_ROOTS)
    if loaded:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nmodules imported by their folder names, not as p2pstack.*: {loaded}")
