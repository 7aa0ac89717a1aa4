"""Every program in examples/ runs on 127.0.0.1, exits 0 and prints what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# What each example must print (regular expressions, each matched somewhere in stdout).
EXPECTED = {
    "chat.py": [
        r"bob   <- 'hello Bob'",
        r"alice <- 'you said 12 characters'",
        r"chat done",
    ],
    "kv_store.py": [
        r"\{'ok': True, 'value': 'blue'\}",
        r"\{'ok': False, 'value': None\}",
        r"unknown op 'rename'",
        r"server holds 0 keys",
    ],
    "firewall.py": [
        r"alice: \{'to': 'alice', 'time': '12:00'\}",
        r"mallory refused: NotPermitted",
        r"server event: InboundFailure NotPermitted",
        r"mallory: \{'to': 'mallory', 'time': '12:00'\}",
    ],
    "relay.py": [
        r"listener reachable at /ip4/127\.0\.0\.1/tcp/\d+/p2p/\w+/p2p-circuit/p2p/\w+",
        r"dialled True limited: True",
        r"relayed ping: 3 replies",
    ],
    "mdns_discovery.py": [
        r"a discovered b at \['/ip4/127\.0\.0\.1/tcp/\d+'\]",
        r"a pinged b: 2 replies",
    ],
    "bench_muxer.py": [
        r"default +upload +[\d.]+ MB/s +\(1 stream\(s\), median of 3\)",
        r"256 KiB window, 16 KiB frames +upload +[\d.]+ MB/s",
        r"256 KiB window, 16 KiB frames +ratio \d+\.\d\d",
    ],
}


def test_every_example_is_checked() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for pattern in EXPECTED[name]:
        assert re.search(pattern, result.stdout), (pattern, result.stdout)
