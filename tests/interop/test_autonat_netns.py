"""AutoNAT with real dial-backs, in network namespaces with public-looking addresses
(11.79.0.x on the test's own bridge): p2pstack's v2 server and js-libp2p's v1 server must
agree before our client decides, and js's v1 client gets its address verified by our server.

h1: p2pstack AutoNAT server (v1 + v2, public policy: no private addresses);
h2: js-libp2p with @libp2p/autonat (server and client; dial-backs on fresh connections);
h3: two p2pstack clients: one listening on 11.79.0.3:4003 (and announcing a closed port,
    4999), one not listening at all and announcing only a closed port (4998).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
import trio

from tests.helpers.netns import NsProcess, can_use_netns, lan, run_in
from tests.interop.peers import InteropSetupError, js_peer_command

PUBLIC = "11.79.0"
TIMEOUT = 30.0
AGENT = [sys.executable, "-m", "tests.interop.autonat_agent"]


def listening(lines: list[dict[str, Any]]) -> bool:
    return any("peer_id" in line for line in lines)


def verdicts(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == "reachability"]


def verified(lines: list[dict[str, Any]]) -> bool:
    return any(f"/ip4/{PUBLIC}.2/tcp/4002" in str(line.get("verified_addrs")) for line in lines)


def decided(lines: list[dict[str, Any]]) -> bool:
    found = verdicts(lines)
    return bool(found) and found[-1]["overall"] != "unknown"


async def first_addr(proc: NsProcess) -> str:
    lines = await proc.wait_for("listening line", listening, TIMEOUT)
    return str(next(line for line in lines if "peer_id" in line)["listen_addrs"][0])


async def test_autonat_with_real_dial_backs() -> None:
    why = can_use_netns()
    if why is not None:  # the suite needs namespaces: fail, never skip
        pytest.fail(f"network namespaces unavailable: {why}", pytrace=False)
    try:
        js_cmd = js_peer_command()
    except InteropSetupError as exc:
        pytest.fail(str(exc), pytrace=False)
    with lan(3) as net:
        h1, h2, h3 = net.hosts
        for i, host in enumerate(net.hosts, start=1):
            ip_addr = ["ip", "-n", host.ns, "addr", "add", f"{PUBLIC}.{i}/24", "dev", "eth0"]
            await trio.run_process(ip_addr, capture_stdout=True, capture_stderr=True)
        js_argv = [*js_cmd, "listen", "--autonat", "--listen", f"/ip4/{PUBLIC}.2/tcp/4002"]
        async with run_in(h2.ns, js_argv, label="js") as js:
            # js prints only verified addresses: none yet (unverified public ones are not
            # announced, peers.md), so its address is built from its peer id.
            lines = await js.wait_for("listening line", listening, TIMEOUT)
            js_id = next(line for line in lines if "peer_id" in line)["peer_id"]
            js_addr = f"/ip4/{PUBLIC}.2/tcp/4002/p2p/{js_id}"
            # Our server dials js, so js's AutoNAT client meets it and asks it to verify
            # js's own (unverified, public) listen address.
            server_argv = [*AGENT, "--server", "--listen", f"/ip4/{PUBLIC}.1/tcp/4001"]
            async with run_in(h1.ns, [*server_argv, "--dial", js_addr], label="server") as server:
                server_addr = await first_addr(server)
                public_argv = [*AGENT, "--client", "--listen", f"/ip4/{PUBLIC}.3/tcp/4003"]
                public_argv += ["--announce", f"/ip4/{PUBLIC}.3/tcp/4999"]
                closed_argv = [*AGENT, "--client", "--announce", f"/ip4/{PUBLIC}.3/tcp/4998"]
                for argv in (public_argv, closed_argv):
                    argv += ["--dial", server_addr, "--dial", js_addr]
                async with (
                    run_in(h3.ns, public_argv, label="client-public") as public,
                    run_in(h3.ns, closed_argv, label="client-closed") as closed,
                ):
                    await public.wait_for("a verdict", decided, TIMEOUT)
                    await closed.wait_for("a verdict", decided, TIMEOUT)
                    js_lines = await js.wait_for("a verified address", verified, TIMEOUT)
                    for proc in (public, closed, server):
                        await proc.stop()  # the agents print their report on stdin EOF
                    public_lines, closed_lines = public.lines(), closed.lines()
                    server_lines = server.lines()

        last = verdicts(public_lines)[-1]
        assert last["overall"] == "public"
        assert last["addrs"] == {
            f"/ip4/{PUBLIC}.3/tcp/4003": "public",
            f"/ip4/{PUBLIC}.3/tcp/4999": "private",
        }
        assert verdicts(closed_lines)[-1] == {
            "event": "reachability",
            "overall": "private",
            "addrs": {f"/ip4/{PUBLIC}.3/tcp/4998": "private"},
        }
        probes = next(line for line in public_lines if "probes" in line)["probes"]
        answers = {(version, addr, reachable) for version, _, addr, reachable, _ in probes}
        assert answers == {
            (1, f"/ip4/{PUBLIC}.3/tcp/4003", True),  # js dialled back
            (2, f"/ip4/{PUBLIC}.3/tcp/4003", True),  # we dialled back with the nonce
            (1, f"/ip4/{PUBLIC}.3/tcp/4999", False),
            (2, f"/ip4/{PUBLIC}.3/tcp/4999", False),
        }, probes
        # js's own client: verified through our v1 server's dial-back.
        assert any("verified_addrs" in line for line in js_lines)
        stats = next(line for line in server_lines if "stats" in line)["stats"]
        assert stats["v1:ok"] >= 1, stats  # js's request
        assert stats["v2:ok"] == 1, stats  # 4003
        assert stats["v2:e_dial_error"] == 2, stats  # 4999 and 4998
