"""Every page of docs/guide: its ```python blocks run as written, its ```python fragment
blocks compile, and its relative links point at files that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide"
BLOCK = re.compile(r"^```python( fragment)?\n(.*?)^```$", flags=re.S | re.M)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PAGES = sorted(p.name for p in GUIDE.glob("*.md"))


def blocks(page: str) -> list[tuple[bool, str]]:
    """``(is_fragment, code)`` for each python block of ``page``."""
    return [(bool(m.group(1)), m.group(2)) for m in BLOCK.finditer((GUIDE / page).read_text())]


PROGRAMS = [
    pytest.param(page, index, id=f"{page}[{index}]")
    for page in PAGES
    for index, (fragment, _) in enumerate(blocks(page))
    if not fragment
]


def test_the_guide_has_its_pages() -> None:
    for topic in (
        "composing-a-node",
        "writing-a-protocol",
        "events",
        "limits",
        "peer-store",
        "gater",
        "keys",
        "logging",
        "request-response",
        "relay",
        "mdns",
        "xmpp",
        "upnp",
        "reachability",
        "benchmarking",
    ):
        assert f"{topic}.md" in PAGES
        assert f"({topic}.md)" in (GUIDE / "README.md").read_text()


def test_no_other_code_fence_hides_python() -> None:
    for page in PAGES:
        for info in re.findall(r"^```(\S*.*)$", (GUIDE / page).read_text(), flags=re.M):
            assert info in ("", "python", "python fragment", "sh", "toml", "text"), (page, info)


@pytest.mark.parametrize("page", PAGES)
def test_fragments_compile_and_links_resolve(page: str) -> None:
    for index, (fragment, code) in enumerate(blocks(page)):
        if fragment:
            compile(code, f"{page}[{index}]", "exec")
    for target in LINK.findall((GUIDE / page).read_text()):
        if "://" not in target:
            assert (GUIDE / target).exists(), (page, target)


@pytest.mark.parametrize(("page", "index"), PROGRAMS)
def test_program_runs(page: str, index: int, tmp_path: Path) -> None:
    script = tmp_path / "program.py"
    script.write_text(blocks(page)[index][1])
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout, "a guide program should show what it did"


def test_every_block_type_checks(tmp_path: Path) -> None:
    """mypy --strict over every block, fragments included: the guide follows the API."""
    files = []
    for page in PAGES:
        for index, (_, code) in enumerate(blocks(page)):
            path = tmp_path / f"{Path(page).stem.replace('-', '_')}_{index}.py"
            path.write_text(code)
            files.append(str(path))
    root = GUIDE.parents[1]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(root / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
