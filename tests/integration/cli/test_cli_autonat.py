"""``p2pstack node --autonat*``: the reachability JSON lines and the config-file keys."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from p2pstack.multiaddr import Multiaddr
from tests.helpers import SCRIPT, running_p2pstack, wait_until
from tests.helpers.autonat import SERVER, autonat_node


def reachability_lines(lines: list[str]) -> list[dict[str, object]]:
    found = [json.loads(line) for line in lines if line.startswith("{")]
    return [f for f in found if f.get("event") == "reachability"]


async def test_node_autonat_prints_its_verdict() -> None:
    args = ("--autonat", "--autonat-allow-private", "--autonat-confirmations", "1")
    async with (
        running_p2pstack("node", *args) as running,
        autonat_node(SERVER) as (server, service),
    ):
        # The CLI node meets an AutoNAT server (here: the server dials it) and asks it.
        await server.dial(Multiaddr(running.info["listen_addrs"][0]))
        await wait_until(lambda: bool(reachability_lines(running.lines)), seconds=15)
        event = reachability_lines(running.lines)[0]
        assert event["source"] == "autonat"
        assert event["overall"] == "public"
        listen = running.info["listen_addrs"][0].split("/p2p/")[0]
        assert event["addrs"] == {listen: "public"}
        assert service.server is not None
        assert service.server.stats["v2:ok"] == 1


def test_autonat_keys_in_a_config_file_and_the_environment(tmp_path: Path) -> None:
    conf = tmp_path / "node.toml"
    conf.write_text("autonat = true\nautonat-confirmations = 2\n")
    env = {**os.environ, "P2PSTACK_AUTONAT_SERVER": "1"}
    result = subprocess.run(
        [str(SCRIPT), "node", "--config", str(conf), "--print-config", "--json"],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["autonat"] is True
    assert printed["autonat-server"] is True
    assert printed["autonat-confirmations"] == 2
    assert printed["autonat-allow-private"] is False
    bad = subprocess.run(
        [str(SCRIPT), "node", "--autonat-confirmations", "0", "--print-config"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "autonat-confirmations must be positive" in bad.stderr
