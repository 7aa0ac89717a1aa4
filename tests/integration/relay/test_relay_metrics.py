"""``p2pstack relay --metrics-addr``: the counters an operator scrapes move as the relay works."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import trio
from prometheus_client.parser import text_string_to_metric_families

from p2pstack.host.metrics import NodeMetrics
from p2pstack.protocols.discovery.metrics import DiscoveryMetrics, register_discovery_metrics
from p2pstack.protocols.nat import UpnpService
from p2pstack.protocols.nat.upnp_metrics import register_upnp_metrics
from p2pstack.protocols.relay.metrics import RelayMetrics, register_relay_metrics
from p2pstack.protocols.request_response.metrics import (
    RequestResponseMetrics,
    register_request_response_metrics,
)
from tests.helpers import running_command
from tests.helpers.cli import run_p2pstack

DOCS = Path(__file__).parents[3] / "docs"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


async def scrape(addr: str) -> Samples:
    status, text = await trio.to_thread.run_sync(_get, f"http://{addr}/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_relay_metrics_move_with_reservations_pings_and_refusals(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"  # started from a config file, as an operator would
    config.write_text(
        'listen = ["/ip4/127.0.0.1/tcp/0"]\nmax-reservations = 1\nmetrics-addr = "127.0.0.1:0"\n'
    )
    async with running_command("relay", "--config", str(config)) as (relay, _, _):
        metrics_addr = relay["metrics_addr"]
        assert metrics_addr.startswith("127.0.0.1:")
        assert await trio.to_thread.run_sync(_get, f"http://{metrics_addr}/healthz") == (
            200,
            "ok\n",
        )
        before = await scrape(metrics_addr)
        assert value(before, "p2pstack_relay_circuits_opened_total") == 0
        relay_addr = relay["listen_addrs"][0]
        async with running_command("node", "--relay-via", relay_addr) as (node, _, _):
            circuit = next(a for a in node["listen_addrs"] if "/p2p-circuit" in a)
            refused = await run_p2pstack("node", "--relay-via", relay_addr)
            assert refused.returncode != 0
            assert "RESERVATION_REFUSED" in refused.stderr
            result = await run_p2pstack("ping", circuit, "--count", "2", "--json")
            assert result.returncode == 0, result.stderr
            assert len(json.loads(result.stdout)["rtts_ms"]) == 2
            ended = "p2pstack_relay_circuits_ended_total"
            for _ in range(200):  # the relay counts the circuit once both ends finished
                samples = await scrape(metrics_addr)
                if sum(v for (name, _), v in samples.items() if name == ended):
                    break
                await trio.sleep(0.05)
            assert value(samples, ended, reason="closed") == 1
            assert value(samples, ended, reason="reset") == 0
            assert value(samples, "p2pstack_relay_circuits_opened_total") == 1
            assert value(samples, "p2pstack_relay_circuits_active") == 0
            assert value(samples, "p2pstack_relay_bytes_relayed_total") > 0
            assert value(samples, "p2pstack_relay_reservations_active") == 1
            assert value(samples, "p2pstack_relay_reservations_accepted_total") == 1
            refusals = "p2pstack_relay_refusals_total"
            assert value(samples, refusals, request="reserve", reason="reservations.max") == 1
            # the node layer: three peers connected over TCP, each through an upgrade
            opened = value(
                samples, "p2pstack_connections_opened_total", direction="inbound", transport="tcp"
            )
            assert opened >= 3
            handshakes = value(
                samples,
                "p2pstack_handshake_duration_seconds_count",
                direction="inbound",
                transport="tcp",
            )
            assert handshakes == opened
            hop = "/libp2p/circuit/relay/0.2.0/hop"
            streams = "p2pstack_streams_opened_total"
            assert value(samples, streams, protocol=hop, direction="inbound") >= 3
            assert value(samples, "p2pstack_connections_open", direction="inbound", transport="tcp")


def test_docs_list_every_metric_and_the_dashboard_uses_only_those() -> None:
    metrics = NodeMetrics()
    register_relay_metrics(RelayMetrics(), metrics.registry)
    register_request_response_metrics(metrics.registry, RequestResponseMetrics())
    register_discovery_metrics(DiscoveryMetrics(), metrics.registry)
    register_upnp_metrics(UpnpService(), metrics.registry)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    families = list(metrics.registry.collect())
    exposed = {f.name + end for f in families for end in suffixes.get(f.type, ("",))}
    documented = set(re.findall(r"`(p2pstack_\w+)`", (DOCS / "operating.md").read_text()))
    for f in families:  # counters are documented with their _total suffix
        assert f.name in documented or f"{f.name}_total" in documented, f.name
    dashboard = json.loads((DOCS / "grafana-relay.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"p2pstack_\w+", expr)}
    assert used
    assert used <= exposed, used - exposed
