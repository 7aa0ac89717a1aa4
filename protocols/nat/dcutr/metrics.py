"""DCUtR metrics for operators (read when scraped).

:class:`DCUtRCollector` reads a :class:`~p2pstack.protocols.nat.dcutr.DCUtRService`'s plain
counters (``stats``, ``failures``) when a Prometheus registry is scraped. Metric names start
with ``p2pstack_dcutr_``; docs/operating.md lists them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from p2pstack.protocols.nat.dcutr.service import DCUtRService


class DCUtRCollector(Collector):
    """Exposes one DCUtR service: hole punches by role, successes, failures by class."""

    def __init__(self, service: DCUtRService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        stats = self.service.stats
        attempts = CounterMetricFamily(
            "p2pstack_dcutr_attempts",
            "Hole punch exchanges: started as initiator, answered as responder",
            labels=["role"],
        )
        attempts.add_metric(["initiator"], stats["started"])
        attempts.add_metric(["responder"], stats["answered"])
        yield attempts
        successes = CounterMetricFamily(
            "p2pstack_dcutr_successes",
            "Hole punches that gave a direct connection, by our role",
            labels=["role"],
        )
        successes.add_metric(["initiator"], stats["succeeded"])
        successes.add_metric(["responder"], stats["answered_succeeded"])
        yield successes
        failures = CounterMetricFamily(
            "p2pstack_dcutr_failures",
            "Hole punches that failed (either role), by reason class (no-connection, "
            "timeout, unsupported, no-addrs, refused, busy, stream, other)",
            labels=["reason"],
        )
        for reason, count in sorted(self.service.failures.items()):
            failures.add_metric([reason], count)
        yield failures
        direct = CounterMetricFamily(
            "p2pstack_dcutr_direct_dials",
            "Direct dials to a relayed peer's public addresses before a hole punch, by outcome",
            labels=["outcome"],
        )
        direct.add_metric(["connected"], stats["direct_succeeded"])
        direct.add_metric(["failed"], stats["direct_dials"] - stats["direct_succeeded"])
        yield direct
        yield CounterMetricFamily(
            "p2pstack_dcutr_refused",
            "DCUtR streams refused (malformed or unexpected messages, over capacity)",
            value=stats["refused"],
        )


def register_dcutr_metrics(service: DCUtRService, registry: CollectorRegistry) -> None:
    """Expose ``service``'s counters in ``registry``."""
    registry.register(DCUtRCollector(service))
