"""The browsing half of mDNS discovery: what we learn about other peers.

Every announcement the zeroconf listener posts is rate limited, parsed and bounded
(:mod:`.records`, :class:`~.config.MdnsConfig`), remembered in the :class:`~.table.PeerTable`
for its TTL, added to the node's peer store and published as
:class:`~.config.PeerDiscovered`; with ``auto_dial`` the peer is dialled. A goodbye removes
the addresses it announced. Hostile records are logged and counted, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, final

import trio

from p2pstack.errors import LimitExceeded, StackError
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns.bridge import Mailbox
from p2pstack.protocols.discovery.mdns.config import MdnsConfig, MdnsStats, PeerDiscovered
from p2pstack.protocols.discovery.mdns.records import (
    Announcement,
    TxtRecordError,
    is_loopback,
    order_addrs,
    parse_announcement,
    split_txt,
)
from p2pstack.protocols.discovery.mdns.table import PeerTable, RateLimiter
from p2pstack.protocols.discovery.mdns.zeroconf_bridge import InstanceGone, Item, TxtRecords

if TYPE_CHECKING:
    from p2pstack.host.context import NodeContext

logger: Final = logging.getLogger("p2pstack.discovery.mdns")


@final
class Browser:
    """Turns announcements into peer store entries, events and dials.

    Args:
        config: the bounds and ``auto_dial``.
        stats: the counters to update.
        own_instance: our instance name (a record of our peer id under another name is
            hostile).
        advertised: the addresses we announce (loopback ones first when dialling if all are).
    """

    def __init__(
        self,
        config: MdnsConfig,
        stats: MdnsStats,
        *,
        own_instance: Callable[[], str],
        advertised: Callable[[], tuple[Multiaddr, ...]],
    ) -> None:
        self.config = config
        self.stats = stats
        self._own_instance = own_instance
        self._advertised = advertised
        self._table = PeerTable(config.max_peers)
        self._limiter = RateLimiter(config.announcements_per_second, config.announcement_burst)
        self._dialing: set[PeerId] = set()
        self._warned_limit = False
        self._nursery: trio.Nursery | None = None

    def peers(self, now: float) -> dict[PeerId, tuple[Multiaddr, ...]]:
        """The peers discovered and not expired at ``now``, with their addresses."""
        return self._table.peers(now)

    async def consume(
        self, node: NodeContext, mailbox: Mailbox[Item], nursery: trio.Nursery | None
    ) -> None:
        """Process what the zeroconf listener posts until ``mailbox`` closes; auto-dials
        run in ``nursery`` (none: no dialling)."""
        self._nursery = nursery
        async for item in mailbox.receive:
            now = trio.current_time()
            if not self._limiter.allow(now):
                self.stats.rate_limited += 1
                if not self._warned_limit:
                    self._warned_limit = True
                    logger.warning("mDNS: announcement flood; dropping over the rate limit")
                continue
            self._warned_limit = False
            if isinstance(item, InstanceGone):
                self._forget(node, item.instance)
            else:
                self._handle(node, item, now)
            self.stats.queue_dropped = mailbox.dropped

    def _forget(self, node: NodeContext, instance: str) -> None:
        entry = self._table.withdraw(instance)
        if entry is None:
            return
        still = self._table.addrs_of(entry.peer_id)
        for addr in entry.addrs:
            if addr not in still:
                node.peerstore.remove_addr(entry.peer_id, addr)
        logger.info("mDNS: %s (%s) left", entry.peer_id, instance)

    def _handle(self, node: NodeContext, item: TxtRecords, now: float) -> None:
        self.stats.announcements += 1
        try:
            strings: list[bytes] = []
            for rdata in item.rdatas:
                strings += split_txt(rdata, max_strings=self.config.max_txt_strings)
                if len(strings) > self.config.max_txt_strings:
                    raise TxtRecordError(f"more than {self.config.max_txt_strings} TXT strings")
            ann = parse_announcement(strings, max_addrs=self.config.max_addrs_per_peer)
        except TxtRecordError as exc:
            self.stats.rejected += 1
            logger.warning("mDNS: ignoring %s: %s", _printable(item.instance), exc)
            return
        if ann is None:
            logger.debug("mDNS: %s has no dnsaddr record", _printable(item.instance))
            return
        if ann.peer_id == node.peer_id:
            if item.instance.lower() != self._own_instance().lower():
                self.stats.rejected += 1
                logger.warning(
                    "mDNS: %s announces our own peer id; ignored", _printable(item.instance)
                )
            return
        for why in ann.skipped:
            logger.info("mDNS: %s: skipped a string: %s", ann.peer_id, why)
        self._accept(node, item, ann, now)

    def _accept(self, node: NodeContext, item: TxtRecords, ann: Announcement, now: float) -> None:
        ttl = min(item.ttl, self.config.max_ttl)
        if ttl <= 0:
            self._forget(node, item.instance)
            return
        try:
            change = self._table.apply(item.instance, ann, ttl, now)
        except LimitExceeded as exc:
            self.stats.table_full += 1
            logger.warning("mDNS: %s", exc)
            return
        node.peerstore.add_addrs(ann.peer_id, ann.addrs, ttl)
        if not change.new_addrs:
            return
        addrs = tuple(self._table.peers(now).get(ann.peer_id, ann.addrs))
        logger.info(
            "mDNS: discovered %s at %s", ann.peer_id, ", ".join(str(a) for a in change.new_addrs)
        )
        node.events.publish(PeerDiscovered(ann.peer_id, addrs, item.instance))
        if self.config.auto_dial and self._nursery is not None:
            self._maybe_dial(node, ann.peer_id, addrs, self._nursery)

    # ---------------------------------------------------------------------- dialling
    def _maybe_dial(
        self, node: NodeContext, peer: PeerId, addrs: tuple[Multiaddr, ...], nursery: trio.Nursery
    ) -> None:
        if node.connection_to(peer) is not None or peer in self._dialing:
            return
        if len(self._dialing) >= self.config.max_concurrent_dials:
            logger.debug("mDNS: %d dials in progress; not dialling %s", len(self._dialing), peer)
            return
        self._dialing.add(peer)
        nursery.start_soon(self._dial, node, peer, addrs)

    async def _dial(self, node: NodeContext, peer: PeerId, addrs: tuple[Multiaddr, ...]) -> None:
        advertised = self._advertised()
        loopback_first = all(is_loopback(a) for a in advertised) and bool(advertised)
        try:
            for addr in order_addrs(addrs, loopback_first=loopback_first):
                try:
                    await node.dial(addr.with_peer_id(peer))
                except (StackError, OSError, trio.BrokenResourceError) as exc:
                    logger.info("mDNS: dialling %s at %s failed: %s", peer, addr, exc)
                    continue
                logger.info("mDNS: connected to %s at %s", peer, addr)
                return
        finally:
            self._dialing.discard(peer)


def _printable(name: str) -> str:
    return name.encode("ascii", "backslashreplace").decode()[:120]
