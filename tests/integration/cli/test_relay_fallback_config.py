"""``relay_fallback``: a NodeConfig field (the Node property its run-time switch), a ``p2pstack
node`` flag, config-file key and ``P2PSTACK_RELAY_FALLBACK`` variable, shown by --print-config."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from p2pstack.cli.common import node_config
from p2pstack.compose import open_node
from p2pstack.errors import InvalidConfigError
from p2pstack.host.node import NodeConfig
from tests.integration.cli.test_config_file import printed, run


async def test_the_node_starts_with_the_configured_fallback_and_can_switch_it() -> None:
    assert NodeConfig().relay_fallback is False
    async with open_node(config=NodeConfig(relay_fallback=True)) as node:
        assert node.relay_fallback is True
        node.relay_fallback = False
        assert node.relay_fallback is False
    async with open_node() as node:
        assert node.relay_fallback is False
    with pytest.raises(InvalidConfigError, match="relay_fallback"):
        NodeConfig(relay_fallback="yes")  # type: ignore[arg-type]
    args = argparse.Namespace(max_memory=None, relay_fallback=True)
    assert node_config(args).relay_fallback is True
    assert node_config(argparse.Namespace(max_memory=1 << 26)).relay_fallback is False


def test_flag_file_and_variable_reach_print_config(tmp_path: Path) -> None:
    assert printed("node")["relay-fallback"] is False
    assert printed("node", "--relay-fallback")["relay-fallback"] is True
    conf = tmp_path / "node.toml"
    conf.write_text("relay-fallback = true\n")
    assert printed("node", "--config", str(conf))["relay-fallback"] is True
    assert printed("node", env={"P2PSTACK_RELAY_FALLBACK": "1"})["relay-fallback"] is True
    off = printed("node", "--config", str(conf), env={"P2PSTACK_RELAY_FALLBACK": "false"})
    assert off["relay-fallback"] is False
    conf.write_text('relay-fallback = "maybe"\n')
    bad = run("node", "--config", str(conf), "--print-config")
    assert bad.returncode == 2
    assert "relay-fallback" in bad.stderr
