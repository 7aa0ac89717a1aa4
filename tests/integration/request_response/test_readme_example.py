"""Run the README's request-response example exactly as written there."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"
SECTION = "## Request-response behind a firewall"


def readme_example() -> str:
    text = README.read_text()
    assert SECTION in text, f"{README} lost its {SECTION!r} section"
    match = re.search(r"```python\n(.*?)```", text[text.index(SECTION) :], re.DOTALL)
    assert match is not None, "no python block in the request-response section"
    return match.group(1)


async def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    module = types.ModuleType("readme_example")
    exec(compile(readme_example(), str(README), "exec"), module.__dict__)
    await module.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "approve 42? True"
    assert lines[1] == "{'paid': 42}"
    assert lines[2] == "approve 1000? False"
    assert lines[3].startswith("refused: ")
    assert "firewall refused" in lines[3]
    assert lines[4] == "{'paid': 1000}"
