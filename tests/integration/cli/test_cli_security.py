"""``--security noise|tls`` on node, ping and perf (and the ``security`` config key)."""

from __future__ import annotations

import json
import tomllib

from tests.helpers.cli import p2pstack, run_p2pstack, running_node


async def test_tls_node_ping_perf() -> None:
    async with running_node(
        "--listen", "/ip4/127.0.0.1/tcp/0", "--security", "tls", "--perf"
    ) as info:
        addr = info["listen_addrs"][0]
        ping = await run_p2pstack("ping", addr, "--count", "2", "--json", "--security", "tls")
        assert ping.returncode == 0, ping.stderr
        assert len(json.loads(ping.stdout)["rtts_ms"]) == 2
        perf = await run_p2pstack(
            "perf", addr, "--upload", "2M", "--download", "1M", "--json", "--security", "tls"
        )
        assert perf.returncode == 0, perf.stderr
        assert json.loads(perf.stdout)["download_bytes"] == 1 << 20
        noise_only = await run_p2pstack("ping", addr, "--count", "1", "--json")
        assert noise_only.returncode == 1
        assert "Traceback" not in noise_only.stderr
        assert len(noise_only.stderr.strip().splitlines()) == 1, noise_only.stderr


def test_security_config_key_and_bad_name() -> None:
    shown = p2pstack("node", "--security", "tls", "--security", "noise", "--print-config")
    assert shown.returncode == 0, shown.stderr
    assert tomllib.loads(shown.stdout)["security"] == ["tls", "noise"]
    bad = p2pstack("ping", "/ip4/127.0.0.1/tcp/1", "--security", "ssl")
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
