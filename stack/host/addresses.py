"""What the node says of itself beyond its listeners: :class:`OwnAddresses`.

The extra addresses it announces (e.g. a UPnP mapping) and its measured reachability
(AutoNAT, UPnP); each change is published on the node's event bus. The node's
``set_announced_addrs``, ``announced_addrs``, ``reachability`` and ``set_reachability`` call
these.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

from p2pstack.host.events import AnnouncedAddrsChanged, EventBus
from p2pstack.host.reachability import ReachabilityChanged, ReachabilityStatus
from p2pstack.multiaddr import Multiaddr

logger: Final = logging.getLogger("p2pstack.node")


class OwnAddresses:
    """The announced extra addresses and the reachability of one node (owned by it)."""

    def __init__(self, events: EventBus) -> None:
        self._events = events
        self._announced: list[Multiaddr] = []
        self._reachability = ReachabilityStatus()

    def announce(self, addrs: Iterable[Multiaddr]) -> None:
        """Replace the extra addresses (``/p2p`` removed, duplicates dropped); publishes
        :class:`~p2pstack.host.events.AnnouncedAddrsChanged` when they change."""
        new = list(dict.fromkeys(a.without_peer_id() for a in addrs))
        if new != self._announced:
            self._announced = new
            self._events.publish(AnnouncedAddrsChanged(tuple(new)))

    def announced(self, listen_addrs: list[Multiaddr]) -> list[Multiaddr]:
        """``listen_addrs``, then the extra addresses not among them."""
        return listen_addrs + [a for a in self._announced if a not in listen_addrs]

    @property
    def reachability(self) -> ReachabilityStatus:
        """The last measured reachability (``UNKNOWN`` until measured)."""
        return self._reachability

    def set_reachability(self, status: ReachabilityStatus, *, source: str) -> None:
        """Record ``status``; logs and publishes
        :class:`~p2pstack.host.reachability.ReachabilityChanged` when it differs."""
        previous = self._reachability
        if status != previous:
            self._reachability = status
            logger.info(
                "reachability %s (from %s): %s",
                status.overall.value,
                source,
                ", ".join(f"{a} {r.value}" for a, r in status.by_addr) or "no address tested",
            )
            self._events.publish(ReachabilityChanged(status, previous, source))
