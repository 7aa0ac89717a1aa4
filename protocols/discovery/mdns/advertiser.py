"""The advertising half of mDNS discovery: announce this node, keep the announcement current.

The instance ``<peer-name>.<service type>`` carries one ``dnsaddr=<addr>/p2p/<id>`` TXT string
per advertisable listen address; it is re-announced when the listen addresses change, and
withdrawn (a goodbye) when none is left or the service stops. A taken name is replaced by a
new random one (a few times).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Final, final

import trio
from zeroconf import NonUniqueNameException, ServiceInfo, Zeroconf

from p2pstack.errors import StackError
from p2pstack.host.events import Event, ListenAddrAdded, ListenAddrRemoved
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns.bridge import run_on_loop
from p2pstack.protocols.discovery.mdns.config import MdnsConfig
from p2pstack.protocols.discovery.mdns.records import (
    build_txt,
    generate_peer_name,
    host_name,
    instance_name,
    is_advertisable,
    order_addrs,
)
from p2pstack.protocols.discovery.mdns.zeroconf_bridge import register, unregister, update

if TYPE_CHECKING:
    from p2pstack.host.context import NodeContext

logger: Final = logging.getLogger("p2pstack.discovery.mdns")

_NAME_RETRIES: Final = 3


@final
class Advertiser:
    """Announces one node. ``peer_name`` may change when the name was taken."""

    def __init__(self, config: MdnsConfig) -> None:
        self.config = config
        self.peer_name = config.peer_name or generate_peer_name()
        self._info: ServiceInfo | None = None
        self._advertised: tuple[Multiaddr, ...] = ()

    @property
    def instance_name(self) -> str:
        """``<peer-name>.<service type>``: what others browse."""
        return instance_name(self.peer_name, self.config.service_type)

    @property
    def advertised(self) -> tuple[Multiaddr, ...]:
        """The addresses currently announced (without ``/p2p``)."""
        return self._advertised if self._info is not None else ()

    async def withdraw(self, zc: Zeroconf) -> None:
        """Send the goodbye for our instance, if it is announced (on zeroconf's loop)."""
        info, self._info = self._info, None
        if info is not None and zc.loop is not None:
            await run_on_loop(zc.loop, unregister(zc, info))
            logger.debug("mDNS goodbye sent for %s", info.name)

    def addresses_to_advertise(self, node: NodeContext) -> list[Multiaddr]:
        loopback_only = self.config.interfaces is not None and all(
            ipaddress.ip_address(ip).is_loopback for ip in self.config.interfaces
        )
        addrs = [a for a in node.listen_addrs if is_advertisable(a)]
        return order_addrs(addrs, loopback_first=loopback_only)

    async def run(
        self, node: NodeContext, zc: Zeroconf, events: trio.MemoryReceiveChannel[Event]
    ) -> None:
        """Advertise ``node`` now and again whenever its listen addresses change."""
        await self.sync(node, zc)
        async for event in events:
            if isinstance(event, ListenAddrAdded | ListenAddrRemoved):
                await self.sync(node, zc)

    async def sync(self, node: NodeContext, zc: Zeroconf) -> None:
        """Register, update or withdraw our service so it announces the node's addresses.

        Raises:
            StackError: no unique instance name was found.
        """
        if zc.loop is None:
            return
        wanted = tuple(self.addresses_to_advertise(node))
        if wanted == self._advertised and (self._info is not None) == bool(wanted):
            return
        self._advertised = wanted
        if not wanted:
            if self._info is not None:
                info, self._info = self._info, None
                await run_on_loop(zc.loop, unregister(zc, info))
                logger.info("mDNS: no listen addresses left; withdrew %s", info.name)
            return
        for _ in range(_NAME_RETRIES):
            info = self._service_info(node, wanted)
            try:
                if self._info is None:
                    await run_on_loop(zc.loop, register(zc, info))
                    logger.info("mDNS: advertising %s (%d addresses)", info.name, len(wanted))
                else:
                    await run_on_loop(zc.loop, update(zc, info))
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
