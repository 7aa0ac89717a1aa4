"""docs/deploy/: the example relay.toml, the systemd unit and the container command line stay
valid for the ``p2pstack relay`` they document."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

from tests.helpers import SCRIPT

DEPLOY = Path(__file__).resolve().parents[3] / "docs" / "deploy"
UNIT = DEPLOY / "p2pstack-relay.service"


def print_config(argv: list[str]) -> dict[str, object]:
    result = subprocess.run(
        [str(SCRIPT), *argv, "--print-config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tomllib.loads(result.stdout)


def test_example_relay_toml_is_valid() -> None:
    documented = tomllib.loads((DEPLOY / "relay.toml").read_text())
    shown = print_config(["relay", "--config", str(DEPLOY / "relay.toml")])
    for key in ("listen", "profile", "max-circuits", "peer-rate", "ip-rate", "log-format"):
        assert shown[key] == documented[key], key
    assert shown["circuit-data"] == 128 << 10


def test_unit_and_container_command_lines_parse(tmp_path: Path) -> None:
    def local(arg: str) -> str:
        arg = arg.replace("${STATE_DIRECTORY}", str(tmp_path))
        arg = arg.replace("/etc/p2pstack/relay.toml", str(DEPLOY / "relay.toml"))
        return arg.replace("/var/lib/p2pstack", str(tmp_path))

    exec_start = next(
        line.removeprefix("ExecStart=")
        for line in UNIT.read_text().splitlines()
        if line.startswith("ExecStart=")
    )
    program, *unit_args = shlex.split(exec_start)
    assert program == "/usr/local/bin/p2pstack"
    shown = print_config([local(a) for a in unit_args])
    assert shown["key"] == str(tmp_path / "relay.key")

    dockerfile = (DEPLOY / "relay.Dockerfile").read_text().splitlines()
    cmd = json.loads(next(line.removeprefix("CMD ") for line in dockerfile if line[:4] == "CMD "))
    shown = print_config([local(a) for a in cmd])
    assert shown["key"] == str(tmp_path / "relay.key")


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze (package systemd) is needed to check the unit"

    def verify(text: str) -> subprocess.CompletedProcess[str]:
        unit = tmp_path / UNIT.name  # ExecStart must name an executable that exists here
        unit.write_text(text.replace("/usr/local/bin/p2pstack", str(SCRIPT)))
        return subprocess.run(
            [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
        )

    good = verify(UNIT.read_text())
    assert good.returncode == 0, good.stderr
    assert UNIT.name not in good.stderr, good.stderr
    broken = verify(UNIT.read_text().replace("ProtectHome=yes", "ProtectHome=maybe\nBogus=1"))
    assert UNIT.name in broken.stderr  # the check can fail
