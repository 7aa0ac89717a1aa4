"""What an operator runs and reads: a relay from a config file, its warnings and log lines, the
liveness probe, perf served only on request, and the limited-relay advice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import running_p2pstack
from tests.helpers.cli import run_p2pstack, running_node


async def test_relay_from_file_warns_without_key_and_logs_json(tmp_path: Path) -> None:
    conf = tmp_path / "relay.toml"
    conf.write_text(
        'listen = ["/ip4/127.0.0.1/tcp/0"]\npeer-rate = "30:5"\nip-rate = "off"\n'
        'log-format = "json"\nmax-circuits-per-ip = 5\n'
    )
    async with running_p2pstack("relay", "--config", str(conf)) as relay:
        info, stderr = relay.info, relay.stderr
        limits = info["limits"]
        assert limits["peer_rate"] == {"burst": 5, "per_minute": 30}
        assert limits["ip_rate"] is None
        assert limits["max_circuits_per_ip"] == 5
        assert limits["request_timeout"] == 60
        # The liveness probe of docs/deploy.md: ping the relay's own address.
        probe = await run_p2pstack("ping", info["listen_addrs"][0], "--count", "1", "--json")
        assert probe.returncode == 0, probe.stderr
    warning = json.loads(stderr.decode().splitlines()[0])
    assert warning["level"] == "WARNING"
    assert "changes on every restart" in warning["message"]
    assert warning["time"].endswith("Z")


async def test_relay_with_key_does_not_warn(tmp_path: Path) -> None:
    key = tmp_path / "relay.key"
    args = ("relay", "--listen", "/ip4/127.0.0.1/tcp/0", "--key", str(key))
    async with running_p2pstack(*args) as running:
        stderr = running.stderr  # still collected until the relay exited
    assert b"changes on every restart" not in stderr


async def test_node_serves_perf_only_with_perf_and_caps_it() -> None:
    async with running_node() as info:
        result = await run_p2pstack("perf", info["listen_addrs"][0], "--upload", "1K")
        assert result.returncode == 1
        assert "started with --perf" in result.stderr
    async with running_node("--perf", "--perf-max-bytes", "1M") as info:
        addr = info["listen_addrs"][0]
        fits = await run_p2pstack("perf", addr, "--download", "1M", "--upload", "1M", "--json")
        assert fits.returncode == 0, fits.stderr
        over = await run_p2pstack("perf", addr, "--download", "2M")
        assert over.returncode == 1
        assert "Traceback" not in over.stderr
        big_upload = await run_p2pstack("perf", addr, "--upload", "3M")
        assert big_upload.returncode == 1


async def test_limited_relay_error_tells_cli_users_what_to_do() -> None:
    async with (
        running_p2pstack("relay", "--listen", "/ip4/127.0.0.1/tcp/0") as relay,
        running_p2pstack(
            "node", "--relay-via", relay.info["listen_addrs"][0], "--perf", "--relay-fallback"
        ) as node,
    ):
        # the relay listened through is also the node's dialing relay for --relay-fallback
        assert node.info["dialing_relays"] == [relay.info["listen_addrs"][0]]
        assert node.info["relay_fallback"] is True
        circuit = next(a for a in node.info["listen_addrs"] if "/p2p-circuit" in a)
        result = await run_p2pstack("perf", circuit, "--upload", "1K")
    assert result.returncode == 1
    assert "--profile bulk" in result.stderr
    assert "allow_limited" not in result.stderr


def test_perf_cap_is_validated() -> None:
    from p2pstack.errors import InvalidConfigError
    from p2pstack.protocols.perf import PerfConfig

    assert PerfConfig().max_bytes is None  # the library's perf() has no cap unless given one
    with pytest.raises(InvalidConfigError, match="max_bytes"):
        PerfConfig(max_bytes=0)
