"""Discovery counters for operators: peers discovered, by discovery source (mDNS, XMPP).

:class:`DiscoveryMetrics` is a node service holding plain counters: it counts mDNS's
:class:`~p2pstack.protocols.discovery.mdns.PeerDiscovered` events (a new peer, or new
addresses of one) and, for each XMPP presence discovery service, every contact presence that
brings a peer id and P2P addresses not seen before from that JID. Put it after the discovery
services in ``open_node(services=[...])`` (it finds XMPP discovery among the node's services)
or pass them as ``xmpp=``; :func:`register_discovery_metrics` exposes it to Prometheus::

    disco = DiscoveryMetrics()
    register_discovery_metrics(disco, metrics.registry)   # metrics: the node's NodeMetrics
    async with open_node(services=[metrics, mdns(...), disco]) as node: ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

import trio
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from p2pstack.protocols.discovery.mdns.config import PeerDiscovered
from p2pstack.protocols.discovery.xmpp.directory import Directory, Snapshot
from p2pstack.protocols.discovery.xmpp.service import XmppDiscovery

if TYPE_CHECKING:
    from p2pstack.host.context import NodeContext

SOURCES: Final = ("mdns", "xmpp")


def new_contacts(before: Snapshot, after: Snapshot) -> int:
    """How many presences of ``after`` carry a peer id and P2P info that the same JID did
    not publish in ``before`` (a new peer, or new addresses of one)."""
    found = 0
    for jid, contact in after.presences.items():
        if contact.peer_id is None or contact.p2p is None:
            continue
        old = before.presences.get(jid)
        if old is None or old.peer_id != contact.peer_id or old.p2p != contact.p2p:
            found += 1
    return found


class DiscoveryMetrics:
    """Peers discovered, by source; a :class:`~p2pstack.host.service.Service`.

    Args:
        xmpp: XMPP discovery services to watch besides those started before this one.
        events_buffer: the event subscription's buffer (events beyond it are missed).
    """

    def __init__(self, *, xmpp: Iterable[XmppDiscovery] = (), events_buffer: int = 256) -> None:
        self.discovered: Counter[str] = Counter()
        """Peers discovered so far by source (``mdns``, ``xmpp``)."""
        self.events_buffer = events_buffer
        self._xmpp = list(xmpp)

    async def serve(
        self, context: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Count discoveries until the node stops."""
        found = [s for s in context.services if isinstance(s, XmppDiscovery)]
        directories = [s.directory for s in [*self._xmpp, *found]]
        with context.events.subscribe(self.events_buffer) as events:
            async with trio.open_nursery() as nursery:
                for directory in {id(d): d for d in directories}.values():
                    nursery.start_soon(self._watch, directory)
                task_status.started()
                async for event in events:
                    if isinstance(event, PeerDiscovered):
                        self.discovered["mdns"] += 1

    async def _watch(self, directory: Directory) -> None:
        snap = directory.snapshot
        self.discovered["xmpp"] += new_contacts(Snapshot(), snap)
        while True:
            after = await directory.wait_changed(snap.version)
            self.discovered["xmpp"] += new_contacts(snap, after)
            snap = after


class DiscoveryCollector(Collector):
    """Exposes a :class:`DiscoveryMetrics` to Prometheus (read when scraped)."""

    def __init__(self, metrics: DiscoveryMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "p2pstack_discovery_peers_discovered",
            "Peers discovered (new, or with new addresses), by source (mdns, xmpp)",
            labels=["source"],
        )
        counts = self.metrics.discovered
        for source in sorted(set(SOURCES) | set(counts)):
            family.add_metric([source], counts[source])
        yield family


def register_discovery_metrics(
    metrics: DiscoveryMetrics, registry: CollectorRegistry
) -> DiscoveryCollector:
    """Expose ``metrics`` in ``registry`` (e.g. a node's ``NodeMetrics.registry``)."""
    collector = DiscoveryCollector(metrics)
    registry.register(collector)
    return collector
