"""The zeroconf side of mDNS discovery: what runs on zeroconf's asyncio loop.

:class:`RecordListener` collects the TXT records of ``<label>.<service type>`` instances and
the PTR goodbyes, and posts them (:class:`TxtRecords`, :class:`InstanceGone`) to trio through
a bounded mailbox; the coroutines below register, update and withdraw our own service and
stop browsing. Nothing here is trusted: :mod:`.records` checks what the items carry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from zeroconf import (
    InterfaceChoice,
    IPVersion,
    RecordUpdate,
    RecordUpdateListener,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
    current_time_millis,
)
from zeroconf._dns import DNSPointer, DNSText
from zeroconf.asyncio import AsyncServiceBrowser

from p2pstack.protocols.discovery.mdns.records import is_instance_of

_TYPE_PTR: Final = 12
_TYPE_TXT: Final = 16
_CLASS_IN: Final = 1


@dataclass(frozen=True, slots=True)
class TxtRecords:
    """The live TXT records of one instance (``ttl``: the shortest remaining)."""

    instance: str
    rdatas: tuple[bytes, ...]
    ttl: float


@dataclass(frozen=True, slots=True)
class InstanceGone:
    """An instance said goodbye, or its records expired."""

    instance: str


Item = TxtRecords | InstanceGone


class RecordListener(RecordUpdateListener):
    """On zeroconf's loop: collects TXT records of ``<label>.<type>`` and PTR goodbyes."""

    def __init__(
        self,
        zc: Zeroconf,
        service_type: str,
        own_instance: Callable[[], str | None],
        post: Callable[[Item], bool],
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
                self._post(InstanceGone(name))
            else:
                # Bounded: a name flooded with distinct TXT records is cut off here.
                live = live[: self._max_records]
                ttl = min(r.get_remaining_ttl(now) for r in live)
                self._post(TxtRecords(name, tuple(r.text for r in live), float(ttl)))
        for name in gone:
            if name not in touched:
                self._post(InstanceGone(name))


def make_zeroconf(interfaces: tuple[str, ...] | None) -> Zeroconf:
    """A Zeroconf on ``interfaces`` (IP addresses; None: every IPv4 interface)."""
    if interfaces is None:
        return Zeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only)
    v6 = any(ipaddress.ip_address(ip).version == 6 for ip in interfaces)
    v4 = any(ipaddress.ip_address(ip).version == 4 for ip in interfaces)
    version = IPVersion.All if v4 and v6 else IPVersion.V6Only if v6 else IPVersion.V4Only
    return Zeroconf(interfaces=list(interfaces), ip_version=version)


async def start_browsing(
    zc: Zeroconf, listener: RecordListener, service_type: str
) -> AsyncServiceBrowser:
    """Browse ``service_type``: the browser sends the PTR queries (with zeroconf's backoff
    and refreshes); ``listener`` reads what comes back, every TXT record of every instance."""
    zc.async_add_listener(listener, None)
    return AsyncServiceBrowser(zc, [service_type], handlers=[ignore_change])


def ignore_change(
    zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
) -> None:
    """The browser is only used for its queries; the record listener reads the answers."""


async def register(zc: Zeroconf, info: ServiceInfo) -> None:
    """Announce ``info`` (raises ``NonUniqueNameException`` when its name is taken)."""
    task = await zc.async_register_service(info, allow_name_change=False)
    await task


async def update(zc: Zeroconf, info: ServiceInfo) -> None:
    """Re-announce ``info`` with changed records."""
    task = await zc.async_update_service(info)
    await task


async def unregister(zc: Zeroconf, info: ServiceInfo) -> None:
    """Send the goodbye for ``info``."""
    task = await zc.async_unregister_service(info)
    await task


async def stop_browsing(
    zc: Zeroconf, browser: AsyncServiceBrowser | None, listener: RecordListener
) -> None:
    """Stop the browser's queries and the listener."""
    if browser is not None:
        await browser.async_cancel()
    zc.async_remove_listener(listener)
