"""mDNS discovery on zeroconf: advertise this node, browse for others, feed the address book.

``open_node(services=[mdns(MdnsConfig(interfaces=("127.0.0.1",)))])`` advertises
``<random peer-name>._p2p._udp.local`` with one ``dnsaddr=<addr>/p2p/<id>`` string per listen
address (re-announced when the listen addresses change), browses ``_p2p._udp.local``, and for
every peer it hears about: adds the addresses to ``node.peerstore`` for the record's TTL,
publishes :class:`PeerDiscovered` on ``node.events`` (new peer or new addresses) and, with
``auto_dial``, connects. A goodbye removes the peer. On shutdown the service sends goodbyes and
stops zeroconf (its loop thread is joined).

zeroconf runs its own asyncio loop in a thread; a record listener on that loop posts the TXT
records of ``_p2p._udp.local`` instances to trio through a bounded :class:`~.bridge.Mailbox`.
Everything parsed from the network is checked in :mod:`.records` and bounded by
:class:`MdnsConfig`: hostile records are logged and ignored, never raised.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, final

import trio
from zeroconf import (
    InterfaceChoice,
    IPVersion,
    NonUniqueNameException,
    RecordUpdate,
    RecordUpdateListener,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
    current_time_millis,
)
from zeroconf._dns import DNSPointer, DNSText
from zeroconf.asyncio import AsyncServiceBrowser

from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError, LimitExceeded, StackError
from p2pstack.host.events import Event, ListenAddrAdded, ListenAddrRemoved
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns.bridge import LoopThread, Mailbox, run_in_thread, run_on_loop
from p2pstack.protocols.discovery.mdns.records import (
    SERVICE_TYPE,
    Announcement,
    TxtRecordError,
    build_txt,
    generate_peer_name,
    host_name,
    instance_name,
    is_advertisable,
    is_instance_of,
    is_loopback,
    order_addrs,
    parse_announcement,
    split_txt,
    validate_peer_name,
    validate_service_type,
)
from p2pstack.protocols.discovery.mdns.table import PeerTable, RateLimiter

if TYPE_CHECKING:
    from p2pstack.host.context import NodeContext

logger: Final = logging.getLogger("p2pstack.discovery.mdns")

_TYPE_PTR: Final = 12
_TYPE_TXT: Final = 16
_CLASS_IN: Final = 1
_NAME_RETRIES: Final = 3


@dataclass(frozen=True, kw_only=True)
class MdnsConfig:
    """Where and how mDNS runs, and the bounds on what it accepts (times in seconds)."""

    interfaces: tuple[str, ...] | None = None
    """IP addresses of the interfaces to use; None means every IPv4 interface of the host."""
    advertise: bool = True
    """Announce this node; False only browses (``p2pstack discover``)."""
    auto_dial: bool = False
    """Connect to every newly discovered peer."""
    service_type: str = SERVICE_TYPE
    peer_name: str | None = None
    """The instance label; a random 32-63 character name when None (never the peer id)."""
    max_peers: int = 256
    """Discovered peers remembered at once; more are ignored until some expire."""
    max_addrs_per_peer: int = 16
    max_txt_strings: int = 64
    """TXT strings read per record; a record with more is ignored."""
    max_ttl: float = 4500.0
    """Longest time an address is believed without a refresh (the record TTL, capped)."""
    announcements_per_second: float = 20.0
    announcement_burst: int = 50
    """Token bucket on announcements processed; the excess is dropped (and counted)."""
    queue_size: int = 128
    """Announcements waiting between zeroconf's thread and the node; more are dropped."""
    max_concurrent_dials: int = 8
    shutdown_timeout: float = 3.0
    """Goodbyes and browser shutdown; zeroconf's own close is bounded by zeroconf."""

    def __post_init__(self) -> None:
        if self.interfaces is not None:
            if not self.interfaces:
                raise InvalidConfigError("interfaces: give at least one address, or None")
            for ip in self.interfaces:
                try:
                    ipaddress.ip_address(ip)
                except ValueError:
                    raise InvalidConfigError(f"not an interface IP address: {ip!r}") from None
        validate_service_type(self.service_type)
        if self.peer_name is not None:
            validate_peer_name(self.peer_name)
        for name in (
            "max_peers",
            "max_addrs_per_peer",
            "max_txt_strings",
            "announcement_burst",
            "queue_size",
            "max_concurrent_dials",
        ):
            if getattr(self, name) < 1:
                raise InvalidConfigError(f"{name} must be at least 1")
        for name in ("max_ttl", "announcements_per_second", "shutdown_timeout"):
            if getattr(self, name) <= 0:
                raise InvalidConfigError(f"{name} must be positive")


@dataclass(frozen=True, slots=True)
class PeerDiscovered(Event):
    """mDNS found ``peer_id`` (new, or with new addresses); ``addrs`` are all its addresses."""

    peer_id: PeerId
    addrs: tuple[Multiaddr, ...]
    instance: str


@dataclass
class MdnsStats:
    """Counters of what the service received and what it refused."""

    announcements: int = 0
    rejected: int = 0
    """Malformed or hostile records (logged)."""
    rate_limited: int = 0
    queue_dropped: int = 0
    table_full: int = 0


@dataclass(frozen=True, slots=True)
class _Txt:
    instance: str
    rdatas: tuple[bytes, ...]
    ttl: float


@dataclass(frozen=True, slots=True)
class _Gone:
    instance: str


_Item = _Txt | _Gone


class _RecordListener(RecordUpdateListener):
    """On zeroconf's loop: collects TXT records of ``<label>.<type>`` and PTR goodbyes."""

    def __init__(
        self,
        zc: Zeroconf,
        service_type: str,
        own_instance: Callable[[], str | None],
        post: Callable[[_Item], bool],
        max_records: int,
    ) -> None:
        super().__init__()
        self._zc = zc
        self._type = service_type.lower()
        self._own = own_instance
        self._post = post
        self._max_records = max_records
        self._touched: dict[str, None] = {}
        self._gone: dict[str, None] = {}

    def _is_own(self, name: str) -> bool:
        own = self._own()
        return own is not None and own.lower() == name.lower()

    def async_update_records(self, zc: Zeroconf, now: float, records: list[RecordUpdate]) -> None:
        for update in records:
            record = update.new
            if record.type == _TYPE_TXT and is_instance_of(record.name, self._type):
                if not self._is_own(record.name):
                    self._touched[record.name] = None
            elif (
                isinstance(record, DNSPointer)
                and record.name.lower() == self._type
                and record.is_expired(now)
                and is_instance_of(record.alias, self._type)
                and not self._is_own(record.alias)
            ):
                self._gone[record.alias] = None

    def async_update_records_complete(self) -> None:
        touched, gone = self._touched, self._gone
        self._touched, self._gone = {}, {}
        now = current_time_millis()
        for name in touched:
            live = [
                r
                for r in self._zc.cache.async_all_by_details(name, _TYPE_TXT, _CLASS_IN)
                if isinstance(r, DNSText) and not r.is_expired(now)
            ]
            if not live:
                self._post(_Gone(name))
            else:
                # Bounded: a name flooded with distinct TXT records is cut off here.
                live = live[: self._max_records]
                ttl = min(r.get_remaining_ttl(now) for r in live)
                self._post(_Txt(name, tuple(r.text for r in live), float(ttl)))
        for name in gone:
            if name not in touched:
                self._post(_Gone(name))


@final
class MdnsService:
    """Advertises the node and discovers peers with mDNS. Build it with :func:`mdns`."""

    def __init__(self, config: MdnsConfig) -> None:
        self.config = config
        self.peer_name = config.peer_name or generate_peer_name()
        self.stats = MdnsStats()
        self._table = PeerTable(config.max_peers)
        self._limiter = RateLimiter(config.announcements_per_second, config.announcement_burst)
        self._node: NodeContext | None = None
        self._zc: Zeroconf | None = None
        self._info: ServiceInfo | None = None
        self._advertised: tuple[Multiaddr, ...] = ()
        self._dialing: set[PeerId] = set()
        self._warned_limit = False
        self._nursery: trio.Nursery | None = None

    @property
    def instance_name(self) -> str:
        """``<peer-name>.<service type>``: what others browse."""
        return instance_name(self.peer_name, self.config.service_type)

    @property
    def advertised(self) -> tuple[Multiaddr, ...]:
        """The addresses currently announced (without ``/p2p``)."""
        return self._advertised if self._info is not None else ()

    def peers(self) -> dict[PeerId, tuple[Multiaddr, ...]]:
        """The peers discovered and not expired, with their addresses."""
        return self._table.peers(trio.current_time())

    # ---------------------------------------------------------------------- running
    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Start zeroconf, browse, advertise; runs until cancelled, then withdraws."""
        if self._node is not None:
            raise InvalidConfigError("an mDNS service serves one node")
        self._node = node
        cfg = self.config
        mailbox: Mailbox[_Item] = Mailbox(cfg.queue_size)
        loop_thread = LoopThread("p2pstack-mdns")
        try:
            zc = await loop_thread.call(self._make_zeroconf)
        except BaseException:
            with trio.CancelScope(shield=True):
                await loop_thread.stop()
            raise
        with node.events.subscribe() as events:
            self._zc = zc
            listener = _RecordListener(
                zc, cfg.service_type, self._own_instance, mailbox.post, cfg.max_txt_strings
            )
            browser: AsyncServiceBrowser | None = None
            try:
                assert zc.loop is not None
                browser = await run_on_loop(zc.loop, self._start_browsing(zc, listener))
                logger.info(
                    "mDNS on %s as %s", ", ".join(cfg.interfaces or ["all"]), self.instance_name
                )
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    nursery.start_soon(self._consume, node, mailbox)
                    if cfg.advertise:
                        nursery.start_soon(self._advertise, node, events)
                    task_status.started()
            finally:
                self._nursery = None
                mailbox.close()
                self.stats.queue_dropped = mailbox.dropped
                with trio.CancelScope(shield=True):
                    with trio.move_on_after(cfg.shutdown_timeout):
                        await self._withdraw(zc, browser, listener)
                    await run_in_thread(zc.close, name="p2pstack-mdns-close")
                    await loop_thread.stop()
                    self._zc = None
                    logger.debug("mDNS stopped")

    def _make_zeroconf(self) -> Zeroconf:
        interfaces = self.config.interfaces
        if interfaces is None:
            return Zeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only)
        v6 = any(ipaddress.ip_address(ip).version == 6 for ip in interfaces)
        v4 = any(ipaddress.ip_address(ip).version == 4 for ip in interfaces)
        version = IPVersion.All if v4 and v6 else IPVersion.V6Only if v6 else IPVersion.V4Only
        return Zeroconf(interfaces=list(interfaces), ip_version=version)

    def _own_instance(self) -> str | None:
        return self.instance_name if self.config.advertise else None

    async def _start_browsing(self, zc: Zeroconf, listener: _RecordListener) -> AsyncServiceBrowser:
        # On zeroconf's loop. The browser sends the PTR queries (with zeroconf's backoff and
        # refreshes); the listener reads what comes back, every TXT record of every instance.
        zc.async_add_listener(listener, None)
        return AsyncServiceBrowser(zc, [self.config.service_type], handlers=[_ignore_change])

    async def _withdraw(
        self, zc: Zeroconf, browser: AsyncServiceBrowser | None, listener: _RecordListener
    ) -> None:
        loop = zc.loop
        if loop is None:
            return
        info, self._info = self._info, None
        try:
            if info is not None:
                await run_on_loop(loop, _unregister(zc, info))
                logger.debug("mDNS goodbye sent for %s", info.name)
            await run_on_loop(loop, _stop_browsing(zc, browser, listener))
        except (trio.ClosedResourceError, RuntimeError) as exc:
            logger.debug("mDNS withdrawal incomplete: %s", exc)

    # ------------------------------------------------------------------ advertising
    def _addresses_to_advertise(self, node: NodeContext) -> list[Multiaddr]:
        loopback_only = self.config.interfaces is not None and all(
            ipaddress.ip_address(ip).is_loopback for ip in self.config.interfaces
        )
        addrs = [a for a in node.listen_addrs if is_advertisable(a)]
        return order_addrs(addrs, loopback_first=loopback_only)

    async def _advertise(self, node: NodeContext, events: trio.MemoryReceiveChannel[Event]) -> None:
        await self._sync_registration(node)
        async for event in events:
            if isinstance(event, ListenAddrAdded | ListenAddrRemoved):
                await self._sync_registration(node)

    async def _sync_registration(self, node: NodeContext) -> None:
        zc = self._zc
        if zc is None or zc.loop is None:
            return
        wanted = tuple(self._addresses_to_advertise(node))
        if wanted == self._advertised and (self._info is not None) == bool(wanted):
            return
        self._advertised = wanted
        if not wanted:
            if self._info is not None:
                info, self._info = self._info, None
                await run_on_loop(zc.loop, _unregister(zc, info))
                logger.info("mDNS: no listen addresses left; withdrew %s", info.name)
            return
        for _ in range(_NAME_RETRIES):
            info = self._service_info(node, wanted)
            try:
                if self._info is None:
                    await run_on_loop(zc.loop, _register(zc, info))
                    logger.info("mDNS: advertising %s (%d addresses)", info.name, len(wanted))
                else:
                    await run_on_loop(zc.loop, _update(zc, info))
                    logger.info("mDNS: re-announced %s (%d addresses)", info.name, len(wanted))
            except NonUniqueNameException:
                logger.warning("mDNS name %s is taken; choosing another", info.name)
                self.peer_name = generate_peer_name()
                continue
            self._info = info
            return
        raise StackError(f"no unique mDNS name after {_NAME_RETRIES} attempts")

    def _service_info(self, node: NodeContext, addrs: tuple[Multiaddr, ...]) -> ServiceInfo:
        built = build_txt(addrs, node.peer_id)
        for addr in built.skipped:
            logger.warning("mDNS: not advertising %s (does not fit a TXT record)", addr)
        hosts: list[bytes] = []
        port = 0
        for addr in built.included:
            host_port = addr.host_port("tcp") or addr.host_port("udp")
            if host_port is None:
                continue
            host, addr_port = host_port
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                continue
            packed = ip.packed
            if packed not in hosts:
                hosts.append(packed)
            port = port or addr_port
        return ServiceInfo(
            self.config.service_type,
            instance_name(self.peer_name, self.config.service_type),
            port=port,
            properties=built.rdata,
            server=host_name(self.peer_name),
            addresses=hosts,
        )

    # ------------------------------------------------------------------- discovery
    async def _consume(self, node: NodeContext, mailbox: Mailbox[_Item]) -> None:
        async for item in mailbox.receive:
            now = trio.current_time()
            if not self._limiter.allow(now):
                self.stats.rate_limited += 1
                if not self._warned_limit:
                    self._warned_limit = True
                    logger.warning("mDNS: announcement flood; dropping over the rate limit")
                continue
            self._warned_limit = False
            if isinstance(item, _Gone):
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

    def _handle(self, node: NodeContext, item: _Txt, now: float) -> None:
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
            if item.instance.lower() != self.instance_name.lower():
                self.stats.rejected += 1
                logger.warning(
                    "mDNS: %s announces our own peer id; ignored", _printable(item.instance)
                )
            return
        for why in ann.skipped:
            logger.info("mDNS: %s: skipped a string: %s", ann.peer_id, why)
        self._accept(node, item, ann, now)

    def _accept(self, node: NodeContext, item: _Txt, ann: Announcement, now: float) -> None:
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
        loopback_first = all(is_loopback(a) for a in self.advertised) and bool(self.advertised)
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


# --------------------------------------------------------------- on zeroconf's loop


def _ignore_change(
    zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
) -> None:
    """The browser is only used for its queries; the record listener reads the answers."""


async def _register(zc: Zeroconf, info: ServiceInfo) -> None:
    task = await zc.async_register_service(info, allow_name_change=False)
    await task


async def _update(zc: Zeroconf, info: ServiceInfo) -> None:
    task = await zc.async_update_service(info)
    await task


async def _unregister(zc: Zeroconf, info: ServiceInfo) -> None:
    task = await zc.async_unregister_service(info)
    await task


async def _stop_browsing(
    zc: Zeroconf, browser: AsyncServiceBrowser | None, listener: _RecordListener
) -> None:
    if browser is not None:
        await browser.async_cancel()
    zc.async_remove_listener(listener)


def _printable(name: str) -> str:
    return name.encode("ascii", "backslashreplace").decode()[:120]


def mdns(config: MdnsConfig | None = None) -> MdnsService:
    """The mDNS discovery service factory (see :class:`MdnsConfig`)."""
    return MdnsService(config_arg(config, MdnsConfig, "mdns(config)"))
