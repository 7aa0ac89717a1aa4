"""The XMPP presence discovery service: publish our P2P info, learn our contacts', gate inbound.

Usage::

    disco = xmpp_discovery(DiscoveryConfig(xmpp=XmppConfig(jid=..., password=...)))
    async with open_node(services=[nat, disco]) as node:  # the node adds disco.gater;
        ...  # disco publishes nat's mapping: it finds the UPnP service among the node's
        await node.listen("/ip4/0.0.0.0/tcp/4001")
        result = await disco.dial("bob@example.org/phone", wait=10)

Our presence carries ``<e2e>`` with the node's Ed25519 identity key, ``<p2p>`` with our local
and external address, ``<relay/>`` with our relayed addresses unless the node is confirmed
public, and caps ``<c/>``. The external address is, in this order: an address confirmed public
by the node's measured reachability (``node.reachability``: AutoNAT), the UPnP mapping (a
mapping alone does not make the node public: AutoNAT confirms it), another address the node
announces (``node.set_announced_addrs``), ``external`` from the config, the local address.
The presence is re-sent whenever what it carries changes: on
:class:`~p2pstack.host.reachability.ReachabilityChanged`,
:class:`~p2pstack.host.events.AnnouncedAddrsChanged`, listen addresses added or removed (relay
reservations too) and UPnP changes; nothing polls.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import trio

from p2pstack.arguments import has_methods, instance_arg
from p2pstack.errors import InvalidConfigError, StackError
from p2pstack.host.events import AnnouncedAddrsChanged, ListenAddrAdded, ListenAddrRemoved
from p2pstack.host.reachability import Reachability, ReachabilityChanged
from p2pstack.identity import Ed25519PublicKey
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.xmpp.client import (
    PresenceAvailable,
    PresenceUnavailable,
    RosterChanged,
    SessionEnded,
    SessionStarted,
    XmppClient,
    XmppConfig,
    XmppEvent,
)
from p2pstack.protocols.discovery.xmpp.dial import DialResult, dial_contact
from p2pstack.protocols.discovery.xmpp.directory import Directory
from p2pstack.protocols.discovery.xmpp.gater import Decision, GaterConfig, XmppGater
from p2pstack.protocols.discovery.xmpp.jid import Jid
from p2pstack.protocols.discovery.xmpp.presence import (
    P2PInfo,
    build_payload,
    canonical_ip,
    parse_presence,
    relayed,
)
from p2pstack.protocols.nat import UpnpService

if TYPE_CHECKING:
    from p2pstack.host.context import NodeContext
    from p2pstack.protocols.nat import NatState

logger: Final = logging.getLogger("p2pstack.discovery.xmpp")

_REPUBLISH_ON: Final = (
    ListenAddrAdded,
    ListenAddrRemoved,
    AnnouncedAddrsChanged,
    ReachabilityChanged,
)
"""The node events after which what our presence carries may have changed."""


@dataclass(frozen=True, kw_only=True)
class DiscoveryConfig:
    """Options of :class:`XmppDiscovery`."""

    xmpp: XmppConfig
    gater: GaterConfig = field(default_factory=GaterConfig)
    local_ip: str | None = None
    """The ``locIp`` to publish; default: the UPnP LAN address, else the first non-loopback
    IPv4 address we listen on (loopback when that is all there is)."""
    external: tuple[str, int] | None = None
    """The external address to publish without UPnP (a manual port forward); default: local."""
    relay: Multiaddr | None = None
    """A relay to fall back to when dialling contacts."""

    def __post_init__(self) -> None:
        if self.local_ip is not None:
            object.__setattr__(self, "local_ip", canonical_ip(self.local_ip))
        if self.external is not None:
            ip, port = self.external
            if not 1 <= port <= 65535:
                raise InvalidConfigError(f"external port {port} outside 1..65535")
            object.__setattr__(self, "external", (canonical_ip(ip), port))


def _tcp_addrs(addrs: Iterable[Multiaddr], families: tuple[str, ...]) -> list[tuple[str, int]]:
    """Direct TCP (host, port) pairs of ``addrs`` in the given IP families, in that order."""
    out: list[tuple[str, int]] = []
    for family in families:
        for addr in addrs:
            if addr.has_protocol("p2p-circuit") or addr.components()[0].name != family:
                continue
            hp = addr.host_port("tcp")
            if hp is not None and hp not in out:
                out.append(hp)
    return out


def choose_own_p2p(
    listen: list[Multiaddr],
    nat: NatState | None,
    local_ip: str | None = None,
    external: tuple[str, int] | None = None,
    public: Iterable[Multiaddr] = (),
    announced: Iterable[Multiaddr] = (),
) -> P2PInfo | None:
    """The ``<p2p/>`` we publish (pure). The external address: the first of ``public`` (the
    addresses the node's reachability confirmed, IPv4 first), else the UPnP mapping, else the
    first direct IPv4 TCP address of ``announced`` (what the node announces besides its listen
    addresses: a UPnP mapping made by another service, an operator's), else ``external``,
    else the local address (a listen address, the first non-loopback IPv4 one unless
    ``local_ip`` says which)."""
    mapping = nat.mappings[0] if nat is not None and nat.mappings else None
    candidates = _tcp_addrs(listen, ("ip4",))
    chosen: tuple[str, int] | None = None
    if candidates:
        if local_ip is not None:
            chosen = next(
                (hp for hp in candidates if hp[0] == local_ip), (local_ip, candidates[0][1])
            )
        else:
            chosen = next(
                (hp for hp in candidates if not ipaddress.ip_address(hp[0]).is_loopback),
                candidates[0],
            )
    mapped_local = (local_ip or mapping.internal_ip, mapping.internal_port) if mapping else None
    confirmed = _tcp_addrs(public, ("ip4", "ip6"))
    if confirmed:
        ext = confirmed[0]
        if mapping is not None and (mapping.external_ip, mapping.external_port) == ext:
            loc = mapped_local or ext
        elif ext in candidates:  # a public listen address: local and external alike
            loc = (local_ip, ext[1]) if local_ip is not None else ext
        else:
            loc = chosen or mapped_local or ext
    elif mapping is not None:
        ext = (mapping.external_ip, mapping.external_port)
        loc = mapped_local or ext
    elif chosen is not None and (extra := _tcp_addrs(announced, ("ip4",))):
        ext, loc = extra[0], chosen
    elif chosen is not None:
        ext, loc = external or chosen, chosen
    else:
        return None
    return P2PInfo(ext_ip=ext[0], ext_port=ext[1], loc_ip=loc[0], loc_port=loc[1])


class XmppDiscovery:
    """A node service. It provides :attr:`gater` (a
    :class:`~p2pstack.host.service.GaterProvider`): the node asks it after the user's gater, so
    only authorised contacts get in."""

    def __init__(
        self,
        config: DiscoveryConfig,
        upnp: UpnpService | None = None,
        *,
        on_publish: Callable[[Jid, P2PInfo | None], None] | None = None,
        on_decision: Callable[[Decision], None] | None = None,
    ) -> None:
        self.config = config
        self.upnp = upnp
        self.directory = Directory()
        self.gater = XmppGater(self.directory, config.gater, on_decision=on_decision)
        self.on_publish = on_publish
        self._client: XmppClient | None = None
        self._node: NodeContext | None = None
        self._published: tuple[P2PInfo | None, bytes, tuple[Multiaddr, ...]] | None = None

    @property
    def client(self) -> XmppClient:
        if self._client is None:
            raise StackError("the XMPP discovery service is not running")
        return self._client

    @property
    def node(self) -> NodeContext:
        if self._node is None:
            raise StackError("the XMPP discovery service is not running")
        return self._node

    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        if not isinstance(node.identity.public_key, Ed25519PublicKey):
            raise InvalidConfigError("XMPP presence discovery needs an Ed25519 node identity")
        self._node = node
        xmpp = self.config.xmpp
        jid = xmpp.parsed_jid
        if not jid.resource:
            resource = f"p2pstack-{node.peer_id.to_base58()[-8:]}"
            xmpp = _with_jid(xmpp, f"{jid.bare}/{resource}")
        self._client = XmppClient(xmpp, self._on_event)
        self.directory.attach_peerstore(node.peerstore)
        if self.upnp is None:
            # Wired by the node: the UPnP service started before us on the same node, if any.
            self.upnp = next((s for s in node.services if isinstance(s, UpnpService)), None)
        if self.upnp is not None:
            self.upnp.add_callback(lambda _: self.republish())
        with node.events.subscribe() as events:
            async with trio.open_nursery() as nursery:
                await nursery.start(self._client.run)
                self.republish()
                task_status.started()
                async for event in events:
                    if isinstance(event, _REPUBLISH_ON):
                        self.republish()

    def own_p2p(self) -> P2PInfo | None:
        """The ``<p2p/>`` we publish now (see the module docstring for the order)."""
        nat = self.upnp.state if self.upnp is not None else None
        node = self.node
        return choose_own_p2p(
            node.listen_addrs,
            nat,
            self.config.local_ip,
            self.config.external,
            node.reachability.public_addrs,
            [a for a in node.announced_addrs if a not in node.listen_addrs],
        )

    def own_relays(self) -> tuple[Multiaddr, ...]:
        """The relayed addresses we publish: our ``/p2p-circuit`` listen addresses, none once
        the node is confirmed public (contacts then dial it directly)."""
        node = self.node
        if node.reachability.overall is Reachability.PUBLIC:
            return ()
        return relayed(node.listen_addrs)

    def republish(self) -> None:
        """Re-send our presence if what it carries changed."""
        if self._client is None or self._node is None:
            return
        p2p, relays = self.own_p2p(), self.own_relays()
        key = self.node.identity.public_key.raw_bytes()
        self.directory.set_own_p2p(p2p)
        if self._published == (p2p, key, relays):
            return
        self._published = (p2p, key, relays)
        logger.info("XMPP: publishing %s, relays %s", p2p, [str(r) for r in relays])
        self._client.set_presence(build_payload(p2p, key, relays))
        self._notify()

    def _notify(self) -> None:
        snap = self.directory.snapshot
        if self.on_publish is not None and snap.online and snap.own_jid is not None:
            self.on_publish(snap.own_jid, snap.own_p2p)

    def _on_event(self, event: XmppEvent) -> None:
        directory = self.directory
        if isinstance(event, SessionStarted):
            directory.session_started(event.jid)
            self._notify()
        elif isinstance(event, SessionEnded):
            directory.session_lost()
        elif isinstance(event, RosterChanged):
            directory.set_roster(event.items)
        elif isinstance(event, PresenceAvailable):
            directory.available(event.jid, parse_presence(event.children))
        elif isinstance(event, PresenceUnavailable):
            directory.unavailable(event.jid)

    async def wait_online(self) -> Jid:
        """Wait until our XMPP session is up; return our full JID."""
        snap = await self.directory.wait_for(lambda s: s.online and s.own_jid is not None)
        assert snap.own_jid is not None
        return snap.own_jid

    async def dial(self, jid: Jid | str, *, wait: float = 0.0, **kwargs: Any) -> DialResult:
        """:func:`~.dial.dial_contact` with our node, directory and configured relay."""
        kwargs.setdefault("relay", self.config.relay)
        return await dial_contact(self.node, self.directory, jid, wait=wait, **kwargs)


def _with_jid(config: XmppConfig, jid: str) -> XmppConfig:
    from dataclasses import replace

    return replace(config, jid=jid)


def xmpp_discovery(
    config: DiscoveryConfig, upnp: UpnpService | None = None, **kwargs: Any
) -> XmppDiscovery:
    """The XMPP presence discovery service factory.

    ``upnp``: the UPnP service whose mapping to publish; by default the node's own UPnP service
    (one in ``open_node(services=[...])``) is found when discovery starts, so it need not be
    passed. ``kwargs``: :class:`XmppDiscovery`'s callbacks.
    """
    instance_arg(config, DiscoveryConfig, "xmpp_discovery(config)")
    if upnp is not None:
        has_methods(upnp, ("add_callback",), "xmpp_discovery(upnp)", "a UpnpService")
    return XmppDiscovery(config, upnp, **kwargs)
