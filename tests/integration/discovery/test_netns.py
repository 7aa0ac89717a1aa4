"""Three hosts on a bridge, each its own network namespace: p2pstack, js-libp2p, py-libp2p.

Each peer runs mDNS inside its namespace (js and py on every interface there, p2pstack on its
veth address only); they must find each other both ways, and p2pstack must connect to what
it discovered (dial by peer id from the address book, identify, ping). The js and py peers
dial what they discover too. The namespaces are created and removed by the ``lan3`` fixture.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.helpers.netns import Lan, NsProcess, run_in
from tests.interop.peers import InteropSetupError, js_peer_command, py_peer_command

TIMEOUT = 40.0  # py-libp2p registers synchronously (~2 s), then everyone queries


def peer_argv(command: Any, ip: str) -> list[str]:
    return [*command(), "listen", "--listen", f"/ip4/{ip}/tcp/0", "--mdns", "--mdns-dial"]


def commands() -> tuple[list[str], list[str]]:
    try:
        return js_peer_command(), py_peer_command()
    except InteropSetupError as exc:  # a missing peer fails, never skips
        pytest.fail(str(exc), pytrace=False)


def ids(lines: list[dict[str, Any]], key: str) -> set[str]:
    return {str(line[key]) for line in lines if key in line}


async def listening_id(proc: NsProcess) -> str:
    lines = await proc.wait_for("listening line", lambda ls: any("peer_id" in x for x in ls), 30)
    return str(next(x for x in lines if "peer_id" in x)["peer_id"])


async def test_p2pstack_js_and_py_discover_each_other(lan3: Lan) -> None:
    js_cmd, py_cmd = commands()
    h1, h2, h3 = lan3.hosts
    agent_argv = [sys.executable, "-m", "tests.integration.discovery.agent"]
    agent_argv += ["--listen", f"/ip4/{h1.ip}/tcp/0", "--interface", h1.ip]
    async with (
        run_in(h1.ns, agent_argv, label="p2pstack") as ours,
        run_in(h2.ns, peer_argv(lambda: js_cmd, h2.ip), label="js") as js,
        run_in(h3.ns, peer_argv(lambda: py_cmd, h3.ip), label="py") as py,
    ):
        our_id, js_id, py_id = [await listening_id(p) for p in (ours, js, py)]

        # p2pstack finds both, connects, identifies and pings them.
        lines = await ours.wait_for(
            "connections to js and py",
            lambda ls: {js_id, py_id} <= ids(ls, "connected") | ids(ls, "dial_failed"),
            TIMEOUT,
        )
        assert {js_id, py_id} <= ids(lines, "discovered")
        assert ids(lines, "dial_failed") == set(), ours.describe()
        agents = {x["connected"]: x["agent"] for x in lines if "connected" in x}
        assert agents[js_id].startswith("js-libp2p")
        assert agents[py_id].startswith("py-libp2p")
        found = {x["discovered"]: x["addrs"] for x in lines if "discovered" in x}
        assert found[js_id] == [f"/ip4/{h2.ip}/tcp/{port_of(js)}"]
        assert found[py_id] == [f"/ip4/{h3.ip}/tcp/{port_of(py)}"]

        # js and py find p2pstack (from its TXT record) and connect to it.
        for other in (js, py):
            got = await other.wait_for(
                "a connection to p2pstack",
                lambda ls: our_id in ids(ls, "connected") | ids(ls, "dial_failed"),
                TIMEOUT,
            )
            assert our_id in ids(got, "discovered")
            assert our_id in ids(got, "connected"), other.describe()
            addrs = next(x["addrs"] for x in got if x.get("discovered") == our_id)
            assert addrs[0].startswith(f"/ip4/{h1.ip}/tcp/")


def port_of(proc: NsProcess) -> str:
    addr = str(proc.first("listen_addrs")["listen_addrs"][0])
    return addr.split("/tcp/")[1].split("/")[0]


async def test_cli_node_and_discover_in_namespaces(lan3: Lan) -> None:
    js_cmd, _ = commands()
    h1, h2, h3 = lan3.hosts
    script = [sys.executable, "-m", "p2pstack.cli.main"]
    node_argv = [*script, "node", "--mdns", h1.ip, "--listen", f"/ip4/{h1.ip}/tcp/0"]
    async with (
        run_in(h1.ns, node_argv, label="p2pstack-node") as node,
        run_in(h2.ns, peer_argv(lambda: js_cmd, h2.ip), label="js") as js,
    ):
        node_id, js_id = await listening_id(node), await listening_id(js)
        got = await js.wait_for(
            "a connection to p2pstack node",
            lambda ls: node_id in ids(ls, "connected") | ids(ls, "dial_failed"),
            TIMEOUT,
        )
        assert node_id in ids(got, "connected"), js.describe()
        discover_argv = [*script, "discover", "--mdns", "--json", "--timeout", "8"]
        async with run_in(h3.ns, [*discover_argv, "--interface", h3.ip], label="discover") as d:
            await d.wait_for("exit", lambda _: d.process.poll() is not None, 30)
            assert d.process.returncode == 0, d.describe()
            listed = {x["peer_id"]: x["addrs"] for x in d.lines()}
            assert set(listed) == {node_id, js_id}, d.describe()
        assert listed[node_id] == [f"/ip4/{h1.ip}/tcp/{port_of(node)}"]
