"""``p2pstack node --metrics-addr``: /metrics counts a ping, /healthz answers, off by default."""

from __future__ import annotations

import urllib.request

import trio
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.cli import run_p2pstack, running_node


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


async def test_node_metrics_endpoint_counts_a_ping() -> None:
    async with running_node("--metrics-addr", "127.0.0.1:0") as node:
        base = f"http://{node['metrics_addr']}"
        assert await trio.to_thread.run_sync(_get, f"{base}/healthz") == (200, "ok\n")
        result = await run_p2pstack("ping", node["listen_addrs"][0], "--count", "1", "--json")
        assert result.returncode == 0, result.stderr
        status, text = await trio.to_thread.run_sync(_get, f"{base}/metrics")
        assert status == 200
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        ping = (("direction", "inbound"), ("protocol", "/ipfs/ping/1.0.0"))
        assert samples[("p2pstack_streams_opened_total", ping)] == 1
        tcp_in = (("direction", "inbound"), ("transport", "tcp"))
        assert samples[("p2pstack_connections_opened_total", tcp_in)] == 1


async def test_metrics_are_off_by_default() -> None:
    async with running_node() as node:
        assert "metrics_addr" not in node
