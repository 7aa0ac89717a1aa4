"""The layer rules (docs/development.md, "Layers") hold: the import contracts in pyproject.toml
pass, so `pytest` alone catches an import that runs against the layers (scripts/test also runs
`lint-imports`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import p2pstack

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["root_package"] == "p2pstack"
    assert config["exclude_type_checking_imports"] is False  # TYPE_CHECKING imports count
    contracts: list[dict[str, object]] = config["contracts"]
    return contracts


def test_import_contracts_pass() -> None:
    # Where `import p2pstack` resolves (.dev/ of this tree) is where the contracts are checked.
    tree = Path(p2pstack.__file__).parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(_contracts())} kept, 0 broken" in result.stdout


def test_the_rules_of_the_layers_are_contracts() -> None:
    forbidden: dict[str, set[str]] = {}
    for contract in _contracts():
        assert contract["type"] == "forbidden"
        for module in contract["source_modules"]:  # type: ignore[attr-defined]
            forbidden.setdefault(module, set()).update(contract["forbidden_modules"])  # type: ignore[arg-type]
    above_foundations = {"p2pstack.host", "p2pstack.transports", "p2pstack.muxers"}
    for foundation in ("p2pstack.errors", "p2pstack.multistream", "p2pstack.abc"):
        assert above_foundations | {"p2pstack.protocols"} <= forbidden[foundation]
    assert {"p2pstack.transports", "p2pstack.muxers", "p2pstack.protocols"} <= forbidden[
        "p2pstack.host"
    ]
    assert "p2pstack.protocols" in forbidden["p2pstack.transports"]
    assert "p2pstack.protocols" in forbidden["p2pstack.muxers"]
    for core in ("p2pstack.multistream.core", "p2pstack.muxers.yamux.core"):
        assert "trio" in forbidden[core]
