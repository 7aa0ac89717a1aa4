"""UPnP metrics for operators: mapping state, renewals and failures (read when scraped).

:class:`UpnpCollector` reads a :class:`~p2pstack.protocols.nat.upnp.UpnpService`'s state and
its plain counters (``service.stats``) when a Prometheus registry is scraped; nothing is
counted in Prometheus as the service works. Metric names start with ``p2pstack_upnp_``;
docs/operating.md lists them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from p2pstack.protocols.nat.upnp import (
    GatewayRefused,
    NoGatewayFound,
    PrivateExternalAddress,
    UpnpService,
)

FAILURE_KINDS: Final = tuple(
    cls.__name__ for cls in (NoGatewayFound, GatewayRefused, PrivateExternalAddress)
)


class UpnpCollector(Collector):
    """Exposes one UPnP service's mappings and counters.

    ``p2pstack_upnp_mapped`` is 1 for each (protocol, internal port) mapped now and 0 for
    one mapped earlier and lost since (a failed renewal, the gateway gone).
    """

    def __init__(self, service: UpnpService) -> None:
        self.service = service
        self._seen: set[tuple[str, int]] = set()

    def collect(self) -> Iterator[Metric]:
        state = self.service.state
        mapped = {(m.protocol, m.internal_port): m for m in state.mappings}
        self._seen |= set(mapped)
        gauge = GaugeMetricFamily(
            "p2pstack_upnp_mapped",
            "1 while the gateway maps this (protocol, internal port), 0 once lost",
            labels=["protocol", "port"],
        )
        for protocol, port in sorted(self._seen):
            gauge.add_metric([protocol, str(port)], 1 if (protocol, port) in mapped else 0)
        yield gauge
        stats = self.service.stats
        yield CounterMetricFamily(
            "p2pstack_upnp_renewals",
            "Successful AddPortMapping calls: first mappings and lease renewals",
            value=stats.renewals,
        )
        failures = CounterMetricFamily(
            "p2pstack_upnp_failures",
            "Failed gateway registration rounds, by error kind",
            labels=["kind"],
        )
        for kind in sorted(set(FAILURE_KINDS) | set(stats.failures)):
            failures.add_metric([kind], stats.failures[kind])
        yield failures


def register_upnp_metrics(service: UpnpService, registry: CollectorRegistry) -> UpnpCollector:
    """Expose ``service``'s mapping state and counters in ``registry``."""
    collector = UpnpCollector(service)
    registry.register(collector)
    return collector
