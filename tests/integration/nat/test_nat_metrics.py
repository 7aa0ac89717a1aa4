"""AutoNAT and DCUtR Prometheus collectors: values read when scraped, every metric listed
in docs/operating.md, and ``p2pstack node --metrics-addr`` registering them."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import trio
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from p2pstack.compose import open_node
from p2pstack.host.reachability import Reachability
from p2pstack.protocols.identify import identify
from p2pstack.protocols.nat.autonat import AutoNATConfig, autonat
from p2pstack.protocols.nat.autonat.metrics import register_autonat_metrics
from p2pstack.protocols.nat.dcutr import dcutr
from p2pstack.protocols.nat.dcutr.events import failure_class
from p2pstack.protocols.nat.dcutr.metrics import register_dcutr_metrics
from tests.helpers.autonat import SERVER, autonat_node, reachability
from tests.helpers.cli import running_node

DOCS = Path(__file__).resolve().parents[3] / "docs"
LAB = AutoNATConfig(allow_private_addrs=True, min_confirmations=1, max_servers=1)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(registry: CollectorRegistry) -> Samples:
    return samples(generate_latest(registry).decode())


def test_docs_list_every_autonat_and_dcutr_metric() -> None:
    registry = CollectorRegistry()
    register_autonat_metrics(autonat(AutoNATConfig(server=True)), registry)
    register_dcutr_metrics(dcutr(), registry)
    families = list(registry.collect())
    assert len(families) == 10
    documented = set(re.findall(r"`(p2pstack_\w+)`", (DOCS / "operating.md").read_text()))
    for f in families:  # counters are documented with their _total suffix
        suffix = "_total" if f.type == "counter" else ""
        assert f"{f.name}{suffix}" in documented, f.name


def test_failure_classes() -> None:
    assert failure_class("all 3 attempts failed (attempt 1: ...)") == "no-connection"
    assert failure_class("2 rounds without a connection") == "no-connection"
    assert failure_class("protocol not supported by the peer: x") == "unsupported"
    assert failure_class("timed out after 30 s") == "timeout"
    assert failure_class("attempt 1: the peer did not answer in time") == "timeout"
    assert failure_class("refused: too many addresses") == "refused"
    assert failure_class("no public address of ours to send (none observed)") == "no-addrs"
    assert failure_class("another hole punch is running") == "busy"
    assert failure_class("something new") == "other"


async def test_counters_and_reachability_when_scraped() -> None:
    async with (
        autonat_node(SERVER) as (server, server_svc),
        autonat_node(LAB) as (client, client_svc),
    ):
        registry = CollectorRegistry()
        register_autonat_metrics(server_svc, registry)
        register_autonat_metrics(client_svc, registry)
        before = scrape(registry)
        unknown = ("p2pstack_autonat_reachability", (("state", "unknown"),))
        assert before[unknown] == 1
        await client.dial(server.addrs[0])
        await reachability(client, Reachability.PUBLIC)
        after = scrape(registry)
        assert (
            after[("p2pstack_autonat_requests_total", (("outcome", "ok"), ("version", "2")))] == 1
        )
        assert after[("p2pstack_autonat_dial_backs_total", (("result", "connected"),))] == 1
        reachable = (("verdict", "reachable"), ("version", "2"))
        answers = ("p2pstack_autonat_client_answers_total", reachable)
        assert after[answers] == 1
        assert after[("p2pstack_autonat_reachability", (("state", "public"),))] == 1
        assert after[unknown] == 0
        assert after[("p2pstack_autonat_addresses", (("state", "public"),))] == 1


async def test_dcutr_failures_by_class() -> None:
    punch = dcutr()
    registry = CollectorRegistry()
    register_dcutr_metrics(punch, registry)
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[identify()]) as plain,
        open_node(protocols=[identify()], services=[punch]) as node,
    ):
        conn = await node.dial(plain.addrs[0])
        outcome = await punch.hole_punch(conn)  # loopback: no public address to send
        assert getattr(outcome, "reason", "").startswith("no public address"), outcome
    got = scrape(registry)
    assert got[("p2pstack_dcutr_attempts_total", (("role", "initiator"),))] == 1
    assert got[("p2pstack_dcutr_successes_total", (("role", "initiator"),))] == 0
    assert got[("p2pstack_dcutr_failures_total", (("reason", "no-addrs"),))] == 1
    assert got[("p2pstack_dcutr_failures_total", (("reason", "no-connection"),))] == 0


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


async def test_the_node_command_registers_them() -> None:
    args = ("--metrics-addr", "127.0.0.1:0", "--autonat-server", "--dcutr")
    async with running_node(*args) as node:
        text = await trio.to_thread.run_sync(_get, f"http://{node['metrics_addr']}/metrics")
    got = samples(text)
    assert got[("p2pstack_dcutr_attempts_total", (("role", "initiator"),))] == 0
    assert any(name == "p2pstack_autonat_dial_backs_total" for name, _ in got)
