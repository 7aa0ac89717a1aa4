"""Request-response counters for operators: requests, failures by kind, firewall decisions.

Each :class:`~.service.RequestResponse` keeps a :class:`RequestResponseMetrics` (plain
counters it updates as it works, no Prometheus on the request path) as ``service.metrics``;
:class:`RequestResponseCollector` reads those of one or more services when a Prometheus
registry is scraped (the host cannot import protocols, so this collector lives here)::

    rr = request_response("/app/query/1", JsonCodec(), handler=answer)
    metrics = NodeMetrics()
    register_request_response_metrics(metrics.registry, rr)

Metric names start with ``p2pstack_rr_``; docs/operating.md lists them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from p2pstack.protocols.request_response.errors import NotPermitted
from p2pstack.protocols.request_response.firewall import (
    AllowAll,
    Ask,
    Firewall,
    RejectAll,
    RequestDirection,
    Restricted,
    Rule,
)

if TYPE_CHECKING:
    from p2pstack.identity import PeerId
    from p2pstack.protocols.request_response.service import RequestResponse

_KIND: Final[dict[type[Any], str]] = {
    AllowAll: "allow",
    RejectAll: "reject",
    Restricted: "restricted",
    Ask: "ask",
}


def direction_label(direction: RequestDirection) -> str:
    """``inbound`` or ``outbound``."""
    return "inbound" if direction is RequestDirection.INBOUND else "outbound"


def rule_label(rule: Rule | None) -> str:
    """The rule as export_rules names it: ``allow``, ``reject``, ``ask``, ``restricted``,
    ``restricted:<name>`` / ``ask:<name>`` for a named rule; ``none`` without a rule."""
    if rule is None:
        return "none"
    kind = _KIND[type(rule)]
    name = rule.name if isinstance(rule, Restricted | Ask) else None
    return f"{kind}:{name}" if name else kind


@dataclass
class RequestResponseMetrics:
    """Counters of request-response services (one per service, or shared)."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Requests by (protocol, direction): outbound as ``request()`` is called, inbound as
    the stream arrives."""
    failures: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """Failed requests by (protocol, direction, kind): the error's type, as published in
    ``InboundFailure``/``OutboundFailure`` (``NotPermitted``, ``RequestTimeout``...)."""
    decisions: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    """Firewall decisions by (protocol, direction, rule, outcome ``allow``/``deny``)."""

    def request(self, protocol: str, direction: RequestDirection) -> None:
        """Count one request."""
        self.requests[protocol, direction_label(direction)] += 1

    def failed(self, protocol: str, direction: RequestDirection, error: BaseException) -> None:
        """Count one failure."""
        self.failures[protocol, direction_label(direction), type(error).__name__] += 1

    async def check(
        self,
        firewall: Firewall,
        peer: PeerId,
        direction: RequestDirection,
        protocol: str,
        request: Any,
    ) -> None:
        """``firewall.check(...)``, counting the decision under the effective rule.

        Raises:
            NotPermitted: as ``Firewall.check``.
        """
        try:
            await firewall.check(peer, direction, protocol, request)
        except NotPermitted:
            self._decided(firewall, peer, direction, protocol, "deny")
            raise
        self._decided(firewall, peer, direction, protocol, "allow")

    def _decided(
        self,
        firewall: Firewall,
        peer: PeerId,
        direction: RequestDirection,
        protocol: str,
        outcome: str,
    ) -> None:
        rule = rule_label(firewall.rule_for(peer, direction))
        self.decisions[protocol, direction_label(direction), rule, outcome] += 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain JSON data (keys joined with ``|``)."""
        return {
            name: {"|".join(key): n for key, n in sorted(counts.items())}
            for name, counts in (
                ("requests", self.requests),
                ("failures", self.failures),
                ("decisions", self.decisions),
            )
        }


class RequestResponseCollector(Collector):
    """Exposes the counters of request-response services to Prometheus (read when scraped)."""

    def __init__(self, sources: Iterable[RequestResponseMetrics] = ()) -> None:
        self.sources: list[RequestResponseMetrics] = []
        for source in sources:
            self.add(source)

    def add(self, source: RequestResponseMetrics) -> None:
        """Also expose ``source`` (once, however often it is added)."""
        if not any(s is source for s in self.sources):
            self.sources.append(source)

    def collect(self) -> Iterator[Metric]:
        requests: Counter[tuple[str, ...]] = Counter()
        failures: Counter[tuple[str, ...]] = Counter()
        decisions: Counter[tuple[str, ...]] = Counter()
        for source in self.sources:
            requests.update(source.requests)
            failures.update(source.failures)
            decisions.update(source.decisions)
        for name, doc, labels, counts in (
            (
                "p2pstack_rr_requests",
                "Request-response requests, by protocol and direction",
                ["protocol", "direction"],
                requests,
            ),
            (
                "p2pstack_rr_failures",
                "Failed request-response requests, by protocol, direction and error kind",
                ["protocol", "direction", "kind"],
                failures,
            ),
            (
                "p2pstack_rr_firewall_decisions",
                "Firewall decisions, by protocol, direction, rule and outcome (allow, deny)",
                ["protocol", "direction", "rule", "outcome"],
                decisions,
            ),
        ):
            family = CounterMetricFamily(name, doc, labels=labels)
            for key, n in sorted(counts.items()):
                family.add_metric(list(key), n)
            yield family


def register_request_response_metrics(
    registry: CollectorRegistry, *services: RequestResponse[Any, Any] | RequestResponseMetrics
) -> RequestResponseCollector:
    """Expose the ``metrics`` of ``services`` (request-response services, or
    :class:`RequestResponseMetrics` themselves) in ``registry``; add more later with
    ``collector.add(service.metrics)``."""
    collector = RequestResponseCollector(
        s if isinstance(s, RequestResponseMetrics) else s.metrics for s in services
    )
    registry.register(collector)
    return collector
