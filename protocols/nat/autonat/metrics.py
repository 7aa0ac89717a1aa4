"""AutoNAT metrics for operators (read when scraped).

:class:`AutoNATCollector` reads an :class:`~p2pstack.protocols.nat.autonat.AutoNATService`'s
plain counters and the node's reachability when a Prometheus registry is scraped; nothing
is counted in Prometheus as the service works. Metric names start with
``p2pstack_autonat_``; docs/operating.md lists them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from p2pstack.host.reachability import Reachability
from p2pstack.protocols.nat.autonat.service import AutoNATService


def _split(key: str) -> tuple[str, str]:
    """``"v2:e_dial_error"`` -> ``("2", "e_dial_error")``; ``"bad-request"`` -> ``("", ...)``."""
    version, sep, rest = key.partition(":")
    if sep and version.startswith("v"):
        return version[1:], rest
    return "", key


class AutoNATCollector(Collector):
    """Exposes one AutoNAT service: requests served by outcome, dial-backs, the client's
    answers, and the node's reachability (overall, and addresses per verdict)."""

    def __init__(self, service: AutoNATService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        service = self.service
        server = service.server
        requests = CounterMetricFamily(
            "p2pstack_autonat_requests",
            "AutoNAT requests served, by protocol version and outcome (ok, refused, "
            "e_dial_error, rate-limited, bad-request...)",
            labels=["version", "outcome"],
        )
        dial_backs = CounterMetricFamily(
            "p2pstack_autonat_dial_backs",
            "Dial-backs made for AutoNAT requests: connected or failed",
            labels=["result"],
        )
        if server is not None:
            for key, count in sorted(server.stats.items()):
                requests.add_metric(list(_split(key)), count)
            for result, count in sorted(server.dial_backs.items()):
                dial_backs.add_metric([result], count)
        yield requests
        yield dial_backs
        probes = CounterMetricFamily(
            "p2pstack_autonat_client_answers",
            "Answers our AutoNAT client got about our addresses, by protocol version and "
            "verdict (reachable, unreachable, unanswered)",
            labels=["version", "verdict"],
        )
        for key, count in sorted(service.probe_counts.items()):
            probes.add_metric(list(_split(key)), count)
        yield probes
        overall = GaugeMetricFamily(
            "p2pstack_autonat_reachability",
            "1 for the node's current overall reachability (unknown, public, private), else 0",
            labels=["state"],
        )
        addrs = GaugeMetricFamily(
            "p2pstack_autonat_addresses",
            "Our tested addresses, by verdict",
            labels=["state"],
        )
        if service.config.client and service.attached:
            status = service.node.reachability
            verdicts = [r for _, r in status.by_addr]
            for state in Reachability:
                overall.add_metric([state.value], 1 if status.overall is state else 0)
                addrs.add_metric([state.value], verdicts.count(state))
        yield overall
        yield addrs


def register_autonat_metrics(service: AutoNATService, registry: CollectorRegistry) -> None:
    """Expose ``service``'s counters and the node's reachability in ``registry``."""
    registry.register(AutoNATCollector(service))
