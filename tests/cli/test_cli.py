"""The console script, driven exactly as scripts and operators drive it."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

import trio

from stack.identity import Identity

from .conftest import SCRIPT, p2pstack, run_p2pstack, running_node


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
    async with running_node("--listen", "/ip4/127.0.0.1/tcp/0", "--key", str(key)) as info:
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
    from stack.cli.allocator import tune_allocator

    first = tune_allocator()
    assert isinstance(first, bool)
    assert tune_allocator() == first


async def test_node_prints_stats_lines() -> None:
    proc = await trio.lowlevel.open_process(
        [str(SCRIPT), "node", "--stats-interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        buffer = bytearray()
        lines: list[dict[str, Any]] = []
        with trio.fail_after(30):
            while len(lines) < 2:
                chunk = await proc.stdout.receive_some()
                assert chunk, "node exited early"
                buffer += chunk
                while b"\n" in buffer:
                    line, _, rest = bytes(buffer).partition(b"\n")
                    buffer = bytearray(rest)
                    lines.append(json.loads(line))
        assert "peer_id" in lines[0]
        stats = lines[1]["stats"]
        assert stats["connections"] == {"inbound": 0, "outbound": 0}
        assert stats["memory"]["limit"] > 0
        assert stats["faults"] == {}
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
