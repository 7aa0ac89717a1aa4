"""The API reference builds from the docstrings with no warning and no broken reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "apidocs"


def run_apidocs(*args: str, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (env.get("PYTHONPATH", ""), str(extra_path)) if p
        )
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_reference_builds_clean(tmp_path: Path) -> None:
    result = run_apidocs(str(tmp_path / "api"))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    pages = {p.relative_to(tmp_path / "api").as_posix() for p in (tmp_path / "api").rglob("*.html")}
    # Submodules get pages even where a package's __all__ lists only names.
    for page in (
        "index.html",
        "p2pstack.html",
        "p2pstack/host/node.html",
        "p2pstack/bufstream.html",
        "p2pstack/protocols/request_response.html",
        "p2pstack/muxers/yamux/config.html",
    ):
        assert page in pages
    node_page = (tmp_path / "api" / "p2pstack" / "host" / "node.html").read_text()
    assert "new_stream" in node_page


def test_broken_reference_and_import_error_fail_the_build(tmp_path: Path) -> None:
    package = tmp_path / "src" / "fakepkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A package."""\n')
    (package / "good.py").write_text(
        '"""See :func:`fakepkg.good.f`."""\n\n\ndef f() -> None:\n    """Calls :func:`f`."""\n'
    )
    (package / "bad.py").write_text('"""Uses :class:`NoSuchThing`."""\n')
    (package / "broken.py").write_text('"""Imports nothing real."""\nimport no_such_module_x\n')
    result = run_apidocs("--package", "fakepkg", str(tmp_path / "out"), extra_path=tmp_path / "src")
    assert result.returncode == 1
    assert "fakepkg.bad: unresolved reference :class:`NoSuchThing`" in result.stderr
    assert "fakepkg.broken: cannot import" in result.stderr
    assert "fakepkg.good" not in result.stderr.replace("fakepkg.good.f", "")


def test_clean_package_passes(tmp_path: Path) -> None:
    package = tmp_path / "src" / "cleanpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""See :mod:`cleanpkg.mod` and :class:`Exception`."""\n')
    (package / "mod.py").write_text(
        '"""A module."""\n\n\nclass A:\n    """Has :meth:`run`."""\n\n'
        '    def run(self) -> None:\n        """Runs :class:`A`."""\n'
    )
    result = run_apidocs(
        "--package", "cleanpkg", str(tmp_path / "out"), extra_path=tmp_path / "src"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "cleanpkg" / "mod.html").is_file()
