"""Relay counters for operators: active reservations and circuits, bytes, refusals.

:class:`RelayMetrics` holds plain counters the relay updates as it works (no Prometheus on
the data path); :class:`RelayCollector` reads them when a Prometheus registry is scraped.
Refusal reasons are the name of the limit that refused (``reservations.max``,
``circuits.per_peer``, ``rate.ip``...) or, where no limit is involved, the reason in capitals
(``NO_RESERVATION``, ``GATER``, ``MEMORY``, ``MALFORMED_MESSAGE``, ``RELAYED_CONNECTION``,
``TIMEOUT``...).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

CIRCUIT_END_REASONS: Final = ("closed", "data_limit", "duration_limit", "reset")


@dataclass
class RelayMetrics:
    """Counters of one relay server; :meth:`snapshot` gives a JSON-ready view."""

    active_reservations: int = 0
    active_circuits: int = 0
    reservations_accepted: int = 0
    """Reservations granted, renewals included."""
    circuits_opened: int = 0
    circuits_closed: int = 0
    bytes_relayed: int = 0
    """Bytes copied through circuits, both directions."""
    refusals: Counter[str] = field(default_factory=Counter)
    """Refused hop requests by reason (``reservations.max``, ``NO_RESERVATION``...)."""
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Refused hop requests by (request, reason); request is ``reserve``, ``connect`` or
    ``hop`` (refused before its type was known)."""
    circuit_ends: Counter[str] = field(default_factory=Counter)
    """How circuits ended: ``closed``, ``duration_limit``, ``data_limit``, ``reset``."""

    def refuse(self, reason: str, request: str = "hop") -> None:
        """Count one refusal of a ``request`` for ``reason``."""
        self.refusals[reason] += 1
        self.refused[request, reason] += 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain JSON data."""
        return {
            "active_reservations": self.active_reservations,
            "active_circuits": self.active_circuits,
            "reservations_accepted": self.reservations_accepted,
            "circuits_opened": self.circuits_opened,
            "circuits_closed": self.circuits_closed,
            "bytes_relayed": self.bytes_relayed,
            "refusals": dict(sorted(self.refusals.items())),
            "circuit_ends": dict(sorted(self.circuit_ends.items())),
        }


class RelayCollector(Collector):
    """Exposes a :class:`RelayMetrics` to Prometheus (read at scrape time).

    Metric names start with ``p2pstack_relay_``; docs/operating.md lists them.
    """

    def __init__(self, metrics: RelayMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        yield GaugeMetricFamily(
            "p2pstack_relay_reservations_active",
            "Reservations held now",
            value=m.active_reservations,
        )
        yield CounterMetricFamily(
            "p2pstack_relay_reservations_accepted",
            "Reservations granted, renewals included",
            value=m.reservations_accepted,
        )
        refused = CounterMetricFamily(
            "p2pstack_relay_refusals",
            "Hop requests refused, by request (reserve, connect, hop) and reason (the limit)",
            labels=["request", "reason"],
        )
        for (request, reason), n in sorted(m.refused.items()):
            refused.add_metric([request, reason], n)
        yield refused
        yield GaugeMetricFamily(
            "p2pstack_relay_circuits_active", "Circuits open now", value=m.active_circuits
        )
        yield CounterMetricFamily(
            "p2pstack_relay_circuits_opened", "Circuits opened", value=m.circuits_opened
        )
        ended = CounterMetricFamily(
            "p2pstack_relay_circuits_ended",
            "Circuits ended, by reason (closed, data_limit, duration_limit, reset)",
            labels=["reason"],
        )
        for reason in sorted(set(CIRCUIT_END_REASONS) | set(m.circuit_ends)):
            ended.add_metric([reason], m.circuit_ends[reason])
        yield ended
        yield CounterMetricFamily(
            "p2pstack_relay_bytes_relayed",
            "Bytes copied through circuits, both directions",
            value=m.bytes_relayed,
        )


def register_relay_metrics(metrics: RelayMetrics, registry: CollectorRegistry) -> RelayCollector:
    """Expose ``metrics`` in ``registry`` (e.g. a node's ``NodeMetrics.registry``)."""
    collector = RelayCollector(metrics)
    registry.register(collector)
    return collector
