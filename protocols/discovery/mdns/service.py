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
:class:`~.config.MdnsConfig`: hostile records are logged and ignored, never raised. The parts:
:mod:`.config`, :mod:`.advertiser`, :mod:`.browser`, :mod:`.zeroconf_bridge` (what runs on
zeroconf's loop) and :mod:`.bridge` (the thread/trio glue).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, final

import trio
from zeroconf import Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser

from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns.advertiser import Advertiser
from p2pstack.protocols.discovery.mdns.bridge import LoopThread, Mailbox, run_in_thread, run_on_loop
from p2pstack.protocols.discovery.mdns.browser import Browser
from p2pstack.protocols.discovery.mdns.config import MdnsConfig, MdnsStats
from p2pstack.protocols.discovery.mdns.zeroconf_bridge import (
    Item,
    RecordListener,
    make_zeroconf,
    start_browsing,
    stop_browsing,
)

if TYPE_CHECKING:
    from p2pstack.host.context import NodeContext

logger: Final = logging.getLogger("p2pstack.discovery.mdns")


@final
class MdnsService:
    """Advertises the node and discovers peers with mDNS. Build it with :func:`mdns`.

    It runs zeroconf, an :class:`~.advertiser.Advertiser` (when ``config.advertise``) and a
    :class:`~.browser.Browser`.
    """

    def __init__(self, config: MdnsConfig) -> None:
        self.config = config
        self.stats = MdnsStats()
        self._advertiser = Advertiser(config)
        self._browser = Browser(
            config,
            self.stats,
            own_instance=lambda: self.instance_name,
            advertised=lambda: self.advertised,
        )
        self._node: NodeContext | None = None

    @property
    def peer_name(self) -> str:
        """Our instance label (a new random one replaces a name found taken)."""
        return self._advertiser.peer_name

    @property
    def instance_name(self) -> str:
        """``<peer-name>.<service type>``: what others browse."""
        return self._advertiser.instance_name

    @property
    def advertised(self) -> tuple[Multiaddr, ...]:
        """The addresses currently announced (without ``/p2p``)."""
        return self._advertiser.advertised

    def peers(self) -> dict[PeerId, tuple[Multiaddr, ...]]:
        """The peers discovered and not expired, with their addresses."""
        return self._browser.peers(trio.current_time())

    # ---------------------------------------------------------------------- running
    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Start zeroconf, browse, advertise; runs until cancelled, then withdraws."""
        if self._node is not None:
            raise InvalidConfigError("an mDNS service serves one node")
        self._node = node
        cfg = self.config
        mailbox: Mailbox[Item] = Mailbox(cfg.queue_size)
        loop_thread = LoopThread("p2pstack-mdns")
        try:
            zc = await loop_thread.call(lambda: make_zeroconf(cfg.interfaces))
        except BaseException:
            with trio.CancelScope(shield=True):
                await loop_thread.stop()
            raise
        with node.events.subscribe() as events:
            listener = RecordListener(
                zc, cfg.service_type, self._own_instance, mailbox.post, cfg.max_txt_strings
            )
            browser: AsyncServiceBrowser | None = None
            try:
                assert zc.loop is not None
                browser = await run_on_loop(zc.loop, start_browsing(zc, listener, cfg.service_type))
                logger.info(
                    "mDNS on %s as %s", ", ".join(cfg.interfaces or ["all"]), self.instance_name
                )
                async with trio.open_nursery() as nursery:
                    dial_in = nursery if cfg.auto_dial else None
                    nursery.start_soon(self._browser.consume, node, mailbox, dial_in)
                    if cfg.advertise:
                        nursery.start_soon(self._advertiser.run, node, zc, events)
                    task_status.started()
            finally:
                mailbox.close()
                self.stats.queue_dropped = mailbox.dropped
                with trio.CancelScope(shield=True):
                    with trio.move_on_after(cfg.shutdown_timeout):
                        await self._withdraw(zc, browser, listener)
                    await run_in_thread(zc.close, name="p2pstack-mdns-close")
                    await loop_thread.stop()
                    logger.debug("mDNS stopped")

    def _own_instance(self) -> str | None:
        return self.instance_name if self.config.advertise else None

    async def _withdraw(
        self, zc: Zeroconf, browser: AsyncServiceBrowser | None, listener: RecordListener
    ) -> None:
        loop = zc.loop
        if loop is None:
            return
        try:
            await self._advertiser.withdraw(zc)
            await run_on_loop(loop, stop_browsing(zc, browser, listener))
        except (trio.ClosedResourceError, RuntimeError) as exc:
            logger.debug("mDNS withdrawal incomplete: %s", exc)


def mdns(config: MdnsConfig | None = None) -> MdnsService:
    """The mDNS discovery service factory (see :class:`MdnsConfig`)."""
    return MdnsService(config_arg(config, MdnsConfig, "mdns(config)"))
