"""``p2pstack node --rr-echo`` and ``p2pstack request`` over real TCP on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request

import trio
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.cli import run_p2pstack, running_node

PROTOCOL = "/test/rr-echo/1"


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


async def test_request_against_rr_echo_node() -> None:
    metrics = ("--metrics-addr", "127.0.0.1:0", "--mdns", "127.0.0.1")
    async with running_node("--rr-echo", PROTOCOL, *metrics) as info:
        addr = info["listen_addrs"][0]
        result = await run_p2pstack("request", addr, PROTOCOL, "--data", '{"a": [1, 2]}', "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"response": {"echo": {"a": [1, 2]}}}
        pretty = await run_p2pstack("request", addr, PROTOCOL)
        assert pretty.returncode == 0, pretty.stderr
        assert json.loads(pretty.stdout) == {"echo": None}
        wrong = await run_p2pstack("request", addr, "/test/missing/1", "--data", "1")
        assert wrong.returncode == 1
        assert wrong.stderr.count("\n") == 1
        assert "does not serve /test/missing/1" in wrong.stderr
        assert "Traceback" not in wrong.stderr
        # with --metrics-addr the node exposes request-response, bytes and discovery metrics
        text = await trio.to_thread.run_sync(_get, f"http://{info['metrics_addr']}/metrics")
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        inbound = (("direction", "inbound"), ("protocol", PROTOCOL))
        assert samples["p2pstack_rr_requests_total", inbound] == 2
        allowed = (*inbound[:1], ("outcome", "allow"), inbound[1], ("rule", "allow"))
        assert samples["p2pstack_rr_firewall_decisions_total", allowed] == 2
        assert samples["p2pstack_stream_bytes_received_total", (("protocol", PROTOCOL),)] > 0
        assert ("p2pstack_discovery_peers_discovered_total", (("source", "mdns"),)) in samples


async def test_request_errors_are_one_line() -> None:
    bad_json = await run_p2pstack("request", "/ip4/127.0.0.1/tcp/1", PROTOCOL, "--data", "{x")
    assert bad_json.returncode == 2
    assert "not valid JSON" in bad_json.stderr
    unreachable = await run_p2pstack(
        "request",
        "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
        PROTOCOL,
        "--timeout",
        "5",
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("p2pstack request: error: cannot reach")
    assert unreachable.stderr.count("\n") == 1
