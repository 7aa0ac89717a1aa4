"""The console script, driven exactly as scripts and operators drive it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from p2pstack.identity import Identity
from tests.helpers import running_command, wait_until
from tests.helpers.cli import p2pstack, run_p2pstack, running_node


def test_help_lists_commands() -> None:
    result = p2pstack("--help")
    assert result.returncode == 0
    for command in ("node", "ping", "perf", "id", "demo"):
        assert command in result.stdout


def test_id_creates_key_with_mode_0600(tmp_path: Path) -> None:
    key = tmp_path / "node.key"
    first = p2pstack("id", "--key", str(key))
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    again = p2pstack("id", "--key", str(key), "--json")
    assert json.loads(again.stdout) == {"peer_id": first.stdout.strip()}
    assert Identity.load(key).peer_id.to_base58() == first.stdout.strip()


def test_bad_key_file_is_one_line_error(tmp_path: Path) -> None:
    key = tmp_path / "bad.key"
    key.write_bytes(b"not a key")
    result = p2pstack("id", "--key", str(key))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(key) in result.stderr


def test_bad_multiaddr_is_one_line_error() -> None:
    result = p2pstack("ping", "/ip4/999.1.1.1/tcp/1")
    assert result.returncode == 1
    assert result.stderr.startswith("p2pstack ping: error:")
    assert "Traceback" not in result.stderr


def test_unreachable_peer_is_one_line_error() -> None:
    peer = Identity.generate().peer_id
    result = p2pstack("ping", f"/ip4/127.0.0.1/tcp/1/p2p/{peer}", "--json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_node_ping_perf_round_trip(tmp_path: Path) -> None:
    key = tmp_path / "server.key"
    async with running_node(
        "--listen", "/ip4/127.0.0.1/tcp/0", "--key", str(key), "--perf"
    ) as info:
        assert info["peer_id"] == str(Identity.load(key).peer_id)
        addr = info["listen_addrs"][0]
        assert addr.startswith("/ip4/127.0.0.1/tcp/")
        assert addr.endswith(f"/p2p/{info['peer_id']}")
        assert not addr.startswith("/ip4/127.0.0.1/tcp/0/")

        ping = await run_p2pstack("ping", addr, "--count", "3", "--json")
        assert ping.returncode == 0, ping.stderr
        result = json.loads(ping.stdout)
        assert result["peer_id"] == info["peer_id"]
        assert result["connect_ms"] > 0
        assert len(result["rtts_ms"]) == 3

        perf = await run_p2pstack(
            "perf", addr, "--upload", "8M", "--download", "4M", "--streams", "2", "--json"
        )
        assert perf.returncode == 0, perf.stderr
        figures = json.loads(perf.stdout)
        assert figures["upload_bytes"] == 8 << 20
        assert figures["download_bytes"] == 4 << 20
        assert figures["upload_mb_s"] > 0
        assert figures["download_mb_s"] > 0

        tuned = await run_p2pstack(
            "perf",
            addr,
            "--upload",
            "4M",
            "--repeat",
            "3",
            "--write-size",
            "16K",
            "--yamux-window",
            "1M",
            "--yamux-max-frame",
            "16K",
            "--json",
        )
        assert tuned.returncode == 0, tuned.stderr
        report = json.loads(tuned.stdout)
        assert [run["upload_bytes"] for run in report["runs"]] == [4 << 20] * 3
        totals = sorted(run["total_seconds"] for run in report["runs"])
        assert report["total_seconds"] == totals[1]  # the median run is the one shown
        human_perf = await run_p2pstack("perf", addr, "--upload", "1M", "--repeat", "2")
        assert human_perf.returncode == 0, human_perf.stderr
        assert "median of 2: upload" in human_perf.stdout
        bad = await run_p2pstack("perf", addr, "--upload", "1M", "--yamux-window", "1K")
        assert bad.returncode != 0
        assert "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr

        human = await run_p2pstack("ping", addr, "--count", "2")
        assert human.returncode == 0, human.stderr
        assert "pong from" in human.stdout


def test_demo_runs() -> None:
    result = p2pstack("demo", "--size", "8M", "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["perf"]["upload_bytes"] == 8 << 20
    assert "/ipfs/ping/1.0.0" in report["identify"]["protocols"]
    human = p2pstack("demo", "--size", "4M", timeout=120)
    assert human.returncode == 0, human.stderr
    assert "demo complete" in human.stdout


def test_allocator_tuning_is_safe_to_repeat() -> None:
    from p2pstack.cli.allocator import tune_allocator

    first = tune_allocator()
    assert isinstance(first, bool)
    assert tune_allocator() == first


async def test_node_prints_stats_lines() -> None:
    async with running_command("node", "--stats-interval", "0.2") as (info, _, lines):
        assert "peer_id" in info
        await wait_until(lambda: bool(lines), seconds=30)
        stats = json.loads(lines[0])["stats"]
        assert stats["connections"] == {"inbound": 0, "outbound": 0}
        assert stats["memory"]["limit"] > 0
        assert stats["faults"] == {}
        stamped = json.loads(lines[0])
        assert stamped["time"].endswith("Z")
        assert stamped["uptime_s"] >= 0
