"""UPnP IGD port mapping with miniupnpc (a blocking C binding, called from a worker thread).

:class:`UpnpService` maps the node's listening TCP port(s) on the internet gateway with a
finite lease, renews the lease, re-reads the external IP (a change is published like any other
change), and deletes its mappings when the node stops. Its state (:attr:`UpnpService.state`)
feeds the XMPP ``<p2p/>`` element and the addresses identify announces
(``node.set_announced_addrs``). A mapping is never taken as proof that the node is reachable
(gateways accept mappings a second NAT or a firewall then defeats): the service does not touch
``node.reachability``; AutoNAT tests the announced address and sets it.

Failures are typed and kept in the state rather than raised: no gateway
(:class:`NoGatewayFound`), a gateway refusing the mapping (:class:`GatewayRefused`), and a
gateway whose external address is not public (:class:`PrivateExternalAddress`: double NAT or
CGNAT, where a mapping on this gateway does not make us reachable). The service retries after
``retry_interval``.
"""

from __future__ import annotations

import ipaddress
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

import trio

from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError, StackError
from p2pstack.host.events import ListenAddrAdded, ListenAddrRemoved
from p2pstack.multiaddr import Multiaddr

if TYPE_CHECKING:
    from p2pstack.host.context import NodeContext

logger: Final = logging.getLogger("p2pstack.nat.upnp")

MIN_PORT: Final = 1024


class NatError(StackError):
    """Gateway registration failed."""


class NoGatewayFound(NatError):
    """No UPnP internet gateway answered (or the configured root URL is unreachable)."""


class GatewayRefused(NatError):
    """The gateway refused an action (e.g. ``Action not authorized``)."""


class PrivateExternalAddress(NatError):
    """The gateway's external address is private/reserved or empty: double NAT or CGNAT."""


@dataclass(frozen=True, kw_only=True)
class UpnpConfig:
    """UPnP options (times in seconds)."""

    root_url: str | None = None
    """The IGD's root description URL (skips SSDP discovery), e.g. ``http://10.0.0.1:5000/rootDesc.xml``."""
    discover_delay_ms: int = 2000
    lease: int = 3600
    """Lease of each mapping; renewed at ``renew_fraction`` of it."""
    renew_fraction: float = 0.5
    check_interval: float = 60.0
    """How often the external IP is re-read between renewals."""
    retry_interval: float = 30.0
    """How soon a failed registration is retried."""
    description: str = "p2pstack"
    allow_private_external: bool = False
    """Accept a private external address (tests, or a known outer port forward)."""
    port_attempts: int = 8
    """External ports tried when the preferred one is taken."""

    def __post_init__(self) -> None:
        if self.lease < 1:
            raise InvalidConfigError("lease must be at least 1 s (0 would be permanent)")
        if not 0 < self.renew_fraction < 1:
            raise InvalidConfigError("renew_fraction must be within (0, 1)")
        for name in ("check_interval", "retry_interval"):
            if getattr(self, name) <= 0:
                raise InvalidConfigError(f"{name} must be positive")
        if self.discover_delay_ms < 1 or self.port_attempts < 1:
            raise InvalidConfigError("discover_delay_ms and port_attempts must be positive")
        if self.root_url is not None and not self.root_url.startswith("http://"):
            raise InvalidConfigError("root_url must be an http:// URL")


@dataclass(frozen=True, slots=True)
class PortMapping:
    """One TCP mapping ``external_ip:external_port -> internal_ip:internal_port``."""

    external_ip: str
    external_port: int
    internal_ip: str
    internal_port: int
    lease: int
    protocol: str = "TCP"

    @property
    def external_addr(self) -> Multiaddr:
        return Multiaddr.from_host_port(self.external_ip, self.external_port)


@dataclass
class UpnpStats:
    """Counters for operators (:mod:`p2pstack.protocols.nat.upnp_metrics` exposes them)."""

    renewals: int = 0
    """Successful AddPortMapping calls: first mappings and lease renewals."""
    failures: Counter[str] = field(default_factory=Counter)
    """Failed registration rounds by error type (``NoGatewayFound``, ``GatewayRefused``...)."""


@dataclass(frozen=True, slots=True)
class NatState:
    """What the gateway registration achieved; ``version`` grows with every change."""

    version: int = 0
    lan_ip: str | None = None
    external_ip: str | None = None
    mappings: tuple[PortMapping, ...] = ()
    error: NatError | None = field(default=None, compare=False)

    def mapping_for(self, internal_port: int) -> PortMapping | None:
        return next((m for m in self.mappings if m.internal_port == internal_port), None)


def check_external_ip(text: str, allow_private: bool) -> str:
    """Validate the gateway's external address. Raises PrivateExternalAddress."""
    if not text:
        raise PrivateExternalAddress(
            "the gateway reports no external address (its WAN side is private: double NAT?)"
        )
    try:
        ip = ipaddress.ip_address(text)
    except ValueError as exc:
        raise PrivateExternalAddress(
            f"the gateway reports a bad external address {text!r}"
        ) from exc
    if not ip.is_global and not allow_private:
        raise PrivateExternalAddress(
            f"the gateway's external address {ip} is not public (double NAT or CGNAT): "
            "a mapping on it does not make this node reachable"
        )
    return str(ip)


class Gateway:
    """A selected IGD; every method blocks (call it through ``trio.to_thread``)."""

    def __init__(self, upnp: Any, control_url: str) -> None:
        self._upnp = upnp
        self.control_url = control_url

    @classmethod
    def open(cls, config: UpnpConfig) -> Gateway:
        """Discover (or use ``root_url``) and select the IGD. Raises NoGatewayFound."""
        import miniupnpc

        upnp = miniupnpc.UPnP()
        upnp.discoverdelay = config.discover_delay_ms
        try:
            if config.root_url is not None:
                url = upnp.selectigd(config.root_url)
            else:
                if upnp.discover() < 1:
                    raise NoGatewayFound("no UPnP device answered the SSDP search")
                url = upnp.selectigd()
        except Exception as exc:
            if isinstance(exc, NatError):
                raise
            where = config.root_url or "SSDP discovery"
            raise NoGatewayFound(f"no UPnP internet gateway ({where}): {exc}") from exc
        return cls(upnp, str(url))

    @property
    def lan_ip(self) -> str:
        return str(self._upnp.lanaddr)

    def external_ip(self) -> str:
        try:
            return str(self._upnp.externalipaddress() or "")
        except Exception as exc:
            raise GatewayRefused(f"GetExternalIPAddress failed: {exc}") from exc

    def add(self, external_port: int, internal_port: int, lease: int, description: str) -> None:
        """AddPortMapping (also renews). Raises GatewayRefused (message from the gateway)."""
        try:
            ok = self._upnp.addportmapping(
                external_port, "TCP", self.lan_ip, internal_port, description, "", lease
            )
        except Exception as exc:
            raise GatewayRefused(
                f"the gateway refused mapping port {external_port} -> "
                f"{self.lan_ip}:{internal_port}: {exc}"
            ) from exc
        if not ok:
            raise GatewayRefused(f"the gateway refused mapping port {external_port}")

    def delete(self, external_port: int) -> None:
        try:
            self._upnp.deleteportmapping(external_port, "TCP")
        except Exception as exc:
            raise GatewayRefused(f"DeletePortMapping {external_port} failed: {exc}") from exc

    def lookup(self, external_port: int) -> tuple[str, int] | None:
        """The (internal ip, port) mapped from ``external_port``, if any."""
        try:
            found = self._upnp.getspecificportmapping(external_port, "TCP")
        except Exception:
            return None
        return (str(found[0]), int(found[1])) if found else None


def _is_conflict(exc: GatewayRefused) -> bool:
    return "Conflict" in str(exc) or "718" in str(exc)


class UpnpService:
    """Keeps the node's listening TCP ports mapped on the gateway while the node runs."""

    def __init__(self, config: UpnpConfig | None = None) -> None:
        self.config = config or UpnpConfig()
        self._state = NatState()
        self._changed = trio.Event()
        self._wake = trio.Event()
        self._gateway: Gateway | None = None
        self._lock = trio.Lock()
        self._node: NodeContext | None = None
        self._callbacks: list[Callable[[NatState], None]] = []
        self.stats = UpnpStats()

    @property
    def state(self) -> NatState:
        return self._state

    def add_callback(self, callback: Callable[[NatState], None]) -> None:
        """Call ``callback(state)`` (synchronously) after every change."""
        self._callbacks.append(callback)

    async def wait_changed(self, version: int) -> NatState:
        """Wait until the state's version is above ``version``."""
        while self._state.version <= version:
            await self._changed.wait()
        return self._state

    def _set(self, **changes: Any) -> None:
        new = replace(self._state, **changes)
        if new == self._state and type(new.error) is type(self._state.error):
            return
        self._state = replace(new, version=self._state.version + 1)
        node = self._node
        if node is not None:
            node.set_announced_addrs([m.external_addr for m in self._state.mappings])
        for callback in self._callbacks:
            callback(self._state)
        self._changed.set()
        self._changed = trio.Event()

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        async with self._lock:
            return await trio.to_thread.run_sync(fn, *args)

    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._node = node
        with node.events.subscribe() as events:
            task_status.started()
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._watch_listeners, events)
                    await self._maintain()
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(5):
                    await self._remove_all()

    async def _watch_listeners(self, events: trio.MemoryReceiveChannel[Any]) -> None:
        async for event in events:
            if isinstance(event, ListenAddrAdded | ListenAddrRemoved):
                self._wake.set()

    def _wanted_ports(self, lan_ip: str) -> list[int]:
        node = self._node
        assert node is not None
        ports: list[int] = []
        for addr in node.listen_addrs:
            hp = addr.host_port("tcp")
            if hp is not None and hp[0] == lan_ip and hp[1] not in ports:
                ports.append(hp[1])
        return ports

    async def _maintain(self) -> None:
        cfg = self.config
        while True:
            self._wake = trio.Event()
            try:
                wait = await self._refresh()
                self._set(error=None)
            except NatError as exc:
                self.stats.failures[type(exc).__name__] += 1
                if type(exc) is not type(self._state.error) or str(exc) != str(self._state.error):
                    logger.warning("UPnP: %s", exc)
                self._set(error=exc, mappings=(), external_ip=None)
                self._gateway = None if isinstance(exc, NoGatewayFound) else self._gateway
                wait = min(cfg.retry_interval, cfg.lease * cfg.renew_fraction, cfg.check_interval)
            with trio.move_on_after(wait):
                await self._wake.wait()

    async def _refresh(self) -> float:
        """Open the gateway, read the external IP, add/renew mappings; return the next wait."""
        cfg = self.config
        if self._gateway is None:
            self._gateway = await self._call(Gateway.open, cfg)
            logger.info(
                "UPnP: gateway %s (our LAN address %s)",
                self._gateway.control_url,
                self._gateway.lan_ip,
            )
        gateway = self._gateway
        external = check_external_ip(
            await self._call(gateway.external_ip), cfg.allow_private_external
        )
        if self._state.external_ip not in (None, external):
            logger.warning(
                "UPnP: external IP changed from %s to %s", self._state.external_ip, external
            )
        wanted = self._wanted_ports(gateway.lan_ip)
        mappings: list[PortMapping] = []
        for port in wanted:
            old = self._state.mapping_for(port)
            external_port = await self._map(gateway, port, old.external_port if old else port)
            mappings.append(PortMapping(external, external_port, gateway.lan_ip, port, cfg.lease))
        for old in self._state.mappings:
            if old.internal_port not in wanted:
                await self._delete(gateway, old)
        self._set(lan_ip=gateway.lan_ip, external_ip=external, mappings=tuple(mappings))
        return min(cfg.lease * cfg.renew_fraction, cfg.check_interval)

    async def _map(self, gateway: Gateway, internal_port: int, preferred: int) -> int:
        cfg = self.config
        candidates = [preferred]
        rng = random.Random()
        while len(candidates) < cfg.port_attempts:
            candidates.append(rng.randrange(max(MIN_PORT, 10000), 65536))
        last: GatewayRefused | None = None
        for external_port in candidates:
            try:
                await self._call(
                    gateway.add, external_port, internal_port, cfg.lease, cfg.description
                )
            except GatewayRefused as exc:
                if not _is_conflict(exc):
                    raise
                last = exc
                continue
            self.stats.renewals += 1
            if self._state.mapping_for(internal_port) is None:
                logger.info(
                    "UPnP: mapped external port %d -> %s:%d (lease %d s)",
                    external_port,
                    gateway.lan_ip,
                    internal_port,
                    cfg.lease,
                )
            return external_port
        raise GatewayRefused(f"no free external port for {internal_port}: {last}")

    async def _delete(self, gateway: Gateway, mapping: PortMapping) -> None:
        try:
            await self._call(gateway.delete, mapping.external_port)
            logger.info("UPnP: removed the mapping of external port %d", mapping.external_port)
        except GatewayRefused as exc:
            logger.info("UPnP: %s", exc)

    async def _remove_all(self) -> None:
        gateway = self._gateway
        if gateway is not None:
            for mapping in self._state.mappings:
                await self._delete(gateway, mapping)
        self._set(mappings=())


def upnp(config: UpnpConfig | None = None) -> UpnpService:
    """The UPnP gateway registration service factory."""
    return UpnpService(config_arg(config, UpnpConfig, "upnp(config)"))
