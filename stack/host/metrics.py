"""Prometheus metrics of a node, in a prometheus-client ``CollectorRegistry``.

Add ``NodeMetrics()`` to a node's services (first, so it sees every connection); it counts
from the node's event bus (:mod:`p2pstack.host.events`), and reads the gauges (open
connections, open streams) from the node when the registry is collected. Bytes in and out by
protocol are counted per read/write call in plain integers on each stream
(:func:`p2pstack.host.netstream.meter_traffic`) and read at collection time.
``NodeMetrics.registry`` is a registry of its own unless one is passed (two nodes in one
process must not share one: their metric names are the same). To expose it in an existing
exporter, register the node's metrics in that exporter's registry
(``NodeMetrics(registry=prometheus_client.REGISTRY)``) or serve ``generate_latest(registry)``;
:func:`p2pstack.host.metrics_server.serve_metrics` serves ``/metrics`` and ``/healthz``.
docs/operating.md lists every metric.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import trio
from prometheus_client import Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from p2pstack.host.boundary import FaultContained
from p2pstack.host.events import ConnectionClosed, ConnectionOpened, Event, StreamOpened
from p2pstack.host.netstream import Traffic, meter_traffic
from p2pstack.host.resources.manager import LimitRefused

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection
    from p2pstack.host.context import NodeContext
    from p2pstack.multiaddr import Multiaddr

DURATION_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
"""Histogram buckets (seconds) for dial and handshake durations."""
_TRANSPORTS: Final = ("p2p-circuit", "wss", "ws", "tcp", "memory")


def transport_of(addr: Multiaddr) -> str:
    """The transport label of a connection's remote address (``tcp``, ``ws``, ``wss``,
    ``p2p-circuit``, ``memory``, else the address's first protocol)."""
    names = [c.name for c in addr.components()]
    for name in _TRANSPORTS:
        if name in names:
            return name
    return names[0] if names else "unknown"


def close_reason(cause: BaseException | None) -> str:
    """The close-reason label: the cause's type (``SessionClosed`` for an orderly close by
    either side, ``LimitExceeded``, ``StreamResetError``...), ``local`` when there is none."""
    return "local" if cause is None else type(cause).__name__


class NodeMetrics:
    """A node's Prometheus metrics; a :class:`~p2pstack.host.service.Service`.

    Args:
        registry: where the metrics live (default: a new registry for this node).
        events_buffer: the event subscription's buffer; events beyond it are dropped by the
            bus (and missed by the counters) rather than stalling the node.
        traffic: count bytes in/out by protocol (a few integer additions per read/write
            call on every stream of the node; docs/benchmarks.md has the measured cost).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        events_buffer: int = 4096,
        traffic: bool = True,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.events_buffer = events_buffer
        self.count_traffic = traffic
        self.traffic: Traffic | None = None
        """The node's byte counts once the node started this service (with ``traffic``)."""
        r = self.registry
        self.connections_opened = Counter(
            "p2pstack_connections_opened",
            "Connections opened, by direction and transport",
            ["direction", "transport"],
            registry=r,
        )
        self.connections_closed = Counter(
            "p2pstack_connections_closed",
            "Connections closed, by direction, transport and reason",
            ["direction", "transport", "reason"],
            registry=r,
        )
        self.dial_duration = Histogram(
            "p2pstack_dial_duration_seconds",
            "Successful dials: transport connect plus upgrade",
            ["transport"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.handshake_duration = Histogram(
            "p2pstack_handshake_duration_seconds",
            "Connection upgrades (security and muxer negotiation, handshake)",
            ["direction", "transport"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.streams_opened = Counter(
            "p2pstack_streams_opened",
            "Streams negotiated, by protocol and direction",
            ["protocol", "direction"],
            registry=r,
        )
        self.limit_refusals = Counter(
            "p2pstack_limit_refusals",
            "Resource-limit refusals, by scope kind and limit name",
            ["scope", "limit"],
            registry=r,
        )
        self.faults = Counter(
            "p2pstack_faults",
            "Exceptions contained by a fault boundary (expected: a peer may cause it)",
            ["boundary", "expected"],
            registry=r,
        )
        self._node: NodeContext | None = None
        r.register(_LiveCollector(self))

    async def serve(
        self, context: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Count the node's events until it stops."""
        self._node = context
        if self.count_traffic:
            self.traffic = meter_traffic(context)
        with context.events.subscribe(self.events_buffer) as events:
            task_status.started()
            async for event in events:
                self.observe(event)

    def observe(self, event: Event) -> None:
        """Count one node event."""
        if isinstance(event, StreamOpened):
            self.streams_opened.labels(event.protocol, event.role.direction).inc()
        elif isinstance(event, ConnectionOpened):
            self._opened(event.connection)
        elif isinstance(event, ConnectionClosed):
            conn = event.connection
            self.connections_closed.labels(
                conn.role.direction, transport_of(conn.remote_addr), close_reason(event.cause)
            ).inc()
            if self.traffic is not None:
                self.traffic.sweep()
        elif isinstance(event, LimitRefused):
            self.limit_refusals.labels(event.scope.split(":", 1)[0], event.limit).inc()
        elif isinstance(event, FaultContained):
            self.faults.labels(event.boundary, str(event.expected).lower()).inc()

    def _opened(self, conn: Connection) -> None:
        direction, transport = conn.role.direction, transport_of(conn.remote_addr)
        self.connections_opened.labels(direction, transport).inc()
        if conn.handshake_seconds is not None:
            self.handshake_duration.labels(direction, transport).observe(conn.handshake_seconds)
        if conn.dial_seconds is not None:
            self.dial_duration.labels(transport).observe(conn.dial_seconds)

    def open_connections(self) -> list[Connection]:
        """The node's connections (none before the node started this service)."""
        return self._node.connections if self._node is not None else []


class _LiveCollector(Collector):
    """Gauges read from the node at collection time."""

    def __init__(self, metrics: NodeMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        conns: Tally[tuple[str, str]] = Tally()
        streams: Tally[tuple[str, str]] = Tally()
        for conn in self.metrics.open_connections():
            conns[conn.role.direction, transport_of(conn.remote_addr)] += 1
            for (protocol, role), n in conn.stream_counts().items():
                streams[protocol, role.direction] += n
        open_conns = GaugeMetricFamily(
            "p2pstack_connections_open",
            "Connections open now, by direction and transport",
            labels=["direction", "transport"],
        )
        for labels, n in sorted(conns.items()):
            open_conns.add_metric(list(labels), n)
        yield open_conns
        open_streams = GaugeMetricFamily(
            "p2pstack_streams_open",
            "Streams open now, by protocol and direction",
            labels=["protocol", "direction"],
        )
        for labels, n in sorted(streams.items()):
            open_streams.add_metric(list(labels), n)
        yield open_streams
        traffic = self.metrics.traffic
        received, sent = traffic.totals() if traffic is not None else (Tally[str](), Tally[str]())
        for name, doc, counts in (
            ("p2pstack_stream_bytes_received", "Payload bytes received", received),
            ("p2pstack_stream_bytes_sent", "Payload bytes sent", sent),
        ):
            family = CounterMetricFamily(
                name, f"{doc} on negotiated streams, by protocol", labels=["protocol"]
            )
            for protocol, n in sorted(counts.items()):
                family.add_metric([protocol], n)
            yield family


def node_metrics(registry: CollectorRegistry | None = None) -> NodeMetrics:
    """The metrics service factory (see :class:`NodeMetrics`)."""
    return NodeMetrics(registry)
