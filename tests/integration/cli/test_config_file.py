"""``--config FILE``, ``P2PSTACK_*`` variables and ``--print-config`` of ``node`` and ``relay``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from p2pstack.cli.logs import JsonFormatter, TextFormatter
from tests.helpers import SCRIPT


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("P2PSTACK_")}
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**environ, **(env or {})},
    )


def printed(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    result = run(*args, "--print-config", env=env)
    assert result.returncode == 0, result.stderr
    return tomllib.loads(result.stdout)


def one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_flags_override_variables_override_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "relay.toml"
    conf.write_text(
        'listen = ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/1"]\n'
        "max-circuits = 7\nmax_circuits_per_peer = 3\nip-rate = 100\nprofile = 'bulk'\n"
    )
    from_file = printed("relay", "--config", str(conf))
    assert from_file["max-circuits"] == 7
    assert from_file["max-circuits-per-peer"] == 3
    assert from_file["ip-rate"] == "100:100"
    assert from_file["peer-rate"] == "60:60"  # the default, shown
    assert from_file["max-reservations"] == 32  # the bulk profile's
    assert from_file["listen"] == ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/1"]

    env = {"P2PSTACK_MAX_CIRCUITS": "9", "P2PSTACK_LISTEN": "/ip4/127.0.0.1/tcp/2"}
    from_env = printed("relay", "--config", str(conf), env=env)
    assert from_env["max-circuits"] == 9
    assert from_env["listen"] == ["/ip4/127.0.0.1/tcp/2"]

    flags = printed(
        "relay", "--config", str(conf), "--max-circuits", "11", "--listen", "/ip4/1.2.3.4/tcp/5",
        "--peer-rate", "off", env=env,
    )  # fmt: skip
    assert flags["max-circuits"] == 11
    assert flags["listen"] == ["/ip4/1.2.3.4/tcp/5"]
    assert flags["peer-rate"] == "off"


def test_printed_configuration_reads_back(tmp_path: Path) -> None:
    first = run("relay", "--profile", "bulk", "--circuit-data", "1M", "--print-config")
    assert first.returncode == 0, first.stderr
    conf = tmp_path / "printed.toml"
    conf.write_text(first.stdout)
    again = run("relay", "--config", str(conf), "--print-config")
    assert again.stdout == first.stdout
    as_json = run("relay", "--config", str(conf), "--print-config", "--json")
    assert json.loads(as_json.stdout) == tomllib.loads(first.stdout)


def test_node_configuration_and_verbosity_after_the_command(tmp_path: Path) -> None:
    conf = tmp_path / "node.toml"
    conf.write_text('perf = true\nperf-max-bytes = "16M"\nrr-echo = "/echo/json"\n')
    shown = printed("node", "--config", str(conf), "-vv", "--log-format", "json")
    assert shown["perf"] is True
    assert shown["perf-max-bytes"] == 16 << 20
    assert shown["rr-echo"] == ["/echo/json"]
    assert shown["verbose"] == 2
    assert shown["log-format"] == "json"
    assert printed("node")["perf"] is False
    assert printed("-v", "node")["verbose"] == 1
    assert run("id", "-v").returncode == 0


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("bogus = 1\n", ["unknown key 'bogus'"]),
        ('max-circuits = "many"\n', ["'max-circuits'", "expected an integer"]),
        ("max-circuits = 0\n", ["max_circuits must be at least 1"]),
        ('profile = "fast"\n', ["'profile'", "'fast' is not one of default, bulk"]),
        ('peer-rate = "often"\n', ["'peer-rate'", "invalid rate"]),
        ("listen = [1, true]\n", ["'listen'"]),
        ("stats-interval = -1\n", ["stats-interval must be positive"]),
        ("max-circuits = \n", ["invalid TOML"]),
    ],
)
def test_bad_file_is_one_error_naming_the_key(
    tmp_path: Path, text: str, needles: list[str]
) -> None:
    conf = tmp_path / "relay.toml"
    conf.write_text(text)
    one_error_line(run("relay", "--config", str(conf)), "p2pstack relay: config error:", *needles)


def test_bad_variable_and_missing_file_are_one_error() -> None:
    result = run("node", "--print-config", env={"P2PSTACK_PERF": "maybe"})
    one_error_line(result, "P2PSTACK_PERF", "expected true or false")
    one_error_line(run("relay", "--config", "/nonexistent/relay.toml"), "cannot read")
    # Variables of other commands (or of nothing) are not errors: P2PSTACK_ is shared.
    assert run("node", "--print-config", env={"P2PSTACK_PROFILE": "bulk"}).returncode == 0


def test_perf_without_sizes_is_an_error() -> None:
    result = run("perf", "/ip4/127.0.0.1/tcp/1")
    assert result.returncode == 2
    assert "--upload and/or --download" in result.stderr


def _record(exc_info: bool) -> logging.LogRecord:
    try:
        raise ValueError("boom")
    except ValueError:
        info = sys.exc_info() if exc_info else None
    return logging.LogRecord("p2pstack.relay", logging.WARNING, __file__, 1, "a %s", ("b",), info)


def test_log_formatters() -> None:
    line = json.loads(JsonFormatter().format(_record(exc_info=True)))
    assert line["level"] == "WARNING"
    assert line["logger"] == "p2pstack.relay"
    assert line["message"] == "a b"
    assert line["time"].endswith("Z")
    assert "ValueError: boom" in line["exception"]
    assert "exception" not in json.loads(JsonFormatter().format(_record(exc_info=False)))
    text = TextFormatter().format(_record(exc_info=False))
    stamp, level, name, message = text.split(" ", 3)
    assert stamp.endswith("Z")
    assert "T" in stamp
    assert (level, name, message) == ("WARNING", "p2pstack.relay", "a b")
