"""``p2pstack relay`` and ``p2pstack node --relay-via``, as a newcomer runs them (README)."""

from __future__ import annotations

import json
import signal

import trio

from tests.helpers import running_command
from tests.helpers.cli import run_p2pstack


async def test_relay_node_and_ping_through_it() -> None:
    async with running_command(
        "relay",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--circuit-data",
        "64K",
        "--stats-interval",
        "0.2",
    ) as (relay, relay_proc, relay_lines):
        assert relay["limits"]["circuit_data"] == 65536
        relay_addr = relay["listen_addrs"][0]
        async with running_command("node", "--relay-via", relay_addr) as (node, _, _):
            circuit = [a for a in node["listen_addrs"] if "/p2p-circuit" in a]
            assert circuit == [f"{relay_addr}/p2p-circuit/p2p/{node['peer_id']}"]
            result = await run_p2pstack("ping", circuit[0], "--count", "2", "--json")
            assert result.returncode == 0, result.stderr
            assert len(json.loads(result.stdout)["rtts_ms"]) == 2
        relay_proc.send_signal(signal.SIGUSR1)
        for _ in range(100):
            if any('"circuits_opened": 1' in line for line in relay_lines):
                break
            await trio.sleep(0.1)
        stats = json.loads(relay_lines[-1])["stats"]
        assert stats["reservations_accepted"] == 1


async def test_relay_bulk_profile_flags() -> None:
    result = await run_p2pstack("relay", "--help")
    assert "--profile" in result.stdout
    async with running_command(
        "relay", "--listen", "/ip4/127.0.0.1/tcp/0", "--profile", "bulk", "--max-circuits", "7"
    ) as (relay, _, _):
        assert relay["profile"] == "bulk"
        assert relay["limits"]["circuit_duration"] == 0
        assert relay["limits"]["circuit_data"] == 0
        assert relay["limits"]["max_circuits"] == 7
