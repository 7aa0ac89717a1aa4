"""The node: transports, upgrader, connections, stream handlers and services in one place.

Build one with :func:`p2pstack.compose.open_node` (which picks the defaults and calls
:func:`run_node`). The node owns one nursery; every task it starts (listeners,
connections, stream handlers, services) lives in it and ends when the ``async with`` exits.

:class:`Node` is the public facade; the work is done by parts it owns: listeners and accept
loops (:mod:`~p2pstack.host.listening`, :mod:`~p2pstack.host.accepting`), the connection
table (:mod:`~p2pstack.host.connmgr`), dials (:mod:`~p2pstack.host.dialer`), stream handlers
(:mod:`~p2pstack.host.handlers`), announced addresses and reachability
(:mod:`~p2pstack.host.addresses`), bans and saved state (:mod:`~p2pstack.host.bans`,
:mod:`~p2pstack.host.state`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from p2pstack.abc.muxer import StreamMuxer
from p2pstack.abc.transport import NodeAwareTransport, Transport
from p2pstack.errors import MultiaddrNotSupported, NodeClosed
from p2pstack.host.accepting import Acceptor
from p2pstack.host.addresses import OwnAddresses
from p2pstack.host.admission import Admission
from p2pstack.host.bans import BanList
from p2pstack.host.boundary import Faults
from p2pstack.host.config import NodeConfig as NodeConfig
from p2pstack.host.connection import Connection
from p2pstack.host.connmgr import ConnectionManager
from p2pstack.host.dialer import Dialer
from p2pstack.host.events import EventBus
from p2pstack.host.gater import Gater
from p2pstack.host.handlers import HandlerTable
from p2pstack.host.listening import Listeners
from p2pstack.host.netstream import NetStream
from p2pstack.host.peerstore import PeerStore
from p2pstack.host.reachability import ReachabilityStatus
from p2pstack.host.resources import LimitRefused, ResourceManager
from p2pstack.host.service import Service, StreamHandler, node_gater
from p2pstack.host.service_boundary import serve_service
from p2pstack.host.shutdown import close_connections
from p2pstack.host.state import export_state, import_state
from p2pstack.host.stats import node_stats
from p2pstack.host.upgrader import Upgrader
from p2pstack.identity import Identity, PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.role import Role
from p2pstack.security import SecurityTransport


class Node:
    """A running p2pstack node. Build it with :func:`p2pstack.compose.open_node`.

    Attributes:
        peer_id: this node's peer id (derived from ``identity``).
        identity: the node's key pair.
        peerstore: the address book: known addresses of peers, their protocols and agent
            versions (identify fills it), dial successes and failures.
        events: the event bus; ``with node.events.subscribe() as events:`` receives
            connection, stream, listen-address, identify, fault and refusal events (see
            :mod:`p2pstack.host.events`).
        config: the :class:`NodeConfig` (timeouts and limits) it runs with.
        transports: the transports, in preference order.
        upgrader: secures and multiplexes raw connections.
        gater: the connection gater (policy hooks; see :mod:`p2pstack.host.gater`).
        faults: what the fault boundaries contained: counts by boundary and exception type.
        resources: the resource manager: scopes, their usage and the refusals so far.
        admission: pending inbound connections by IP and subnet (fair admission).
        bans: the ban list, asked before every other gater (see :meth:`ban_peer`).
    """

    def __init__(
        self,
        *,
        identity: Identity,
        transports: Sequence[Transport],
        upgrader: Upgrader,
        gater: Gater,
        config: NodeConfig,
        nursery: trio.Nursery,
        bans: BanList | None = None,
    ) -> None:
        self.identity = identity
        self.peer_id: PeerId = identity.peer_id
        self.transports = list(transports)
        self.upgrader = upgrader
        self.gater = gater
        self.config = config
        self.peerstore = PeerStore()
        self.bans = bans if bans is not None else BanList()
        """The ban list (part of :attr:`gater`); use :meth:`ban_peer` and :meth:`unban_peer`."""
        self.events = EventBus()
        """Node events (connections, streams, faults, refusals); see :mod:`p2pstack.host.events`."""
        self.faults = Faults(self.events, reraise_handler_errors=config.handler_errors == "raise")
        """What the fault boundaries contained: counts by boundary and exception type."""
        self.resources = ResourceManager(
            config.limits,
            config.memory,
            on_refusal=lambda e: self.events.publish(LimitRefused(e.scope, e.limit, str(e))),
        )
        """The resource manager: scopes, their usage and the refusals so far."""
        self.admission = Admission(config.admission, max_pending=config.limits.max_pending_inbound)
        """Pending inbound connections by IP and subnet (fair admission under floods)."""
        self._nursery = nursery
        self._services: list[Service] = []
        self._handlers = HandlerTable()
        self._own = OwnAddresses(self.events)
        self._connection_callbacks: list[Callable[[Connection], None]] = []
        self._dialer = Dialer(self)
        self._dialer.relay_fallback = config.relay_fallback
        self._manager = ConnectionManager(self)
        acceptor = Acceptor(self, nursery, self._manager, self._dialer)
        self._listeners = Listeners(
            peer_id=self.peer_id,
            transports=self.transports,
            events=self.events,
            faults=self.faults,
            nursery=nursery,
            admit=acceptor.admit,
        )
        self._closing = False

    # ----------------------------------------------------------------- handlers
    def set_stream_handler(
        self, protocol: str, handler: StreamHandler, *, allow_limited: bool | None = None
    ) -> None:
        """Serve inbound streams negotiating ``protocol`` with ``handler``.

        ``allow_limited``: also serve it over limited (relayed) connections; by default only
        :data:`~p2pstack.host.connection.LIMITED_OK_PROTOCOLS` (identify, ping, DCUtR) are.
        """
        self._handlers.set(protocol, handler, allow_limited=allow_limited)

    def remove_stream_handler(self, protocol: str) -> None:
        """Stop serving ``protocol`` (no-op when it was not served)."""
        self._handlers.remove(protocol)

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: object) -> None:
        """Run ``fn(*args)`` as a background task of the node (cancelled when it stops).

        The task runs inside a fault boundary: an exception from it is logged, counted and
        published as :class:`~p2pstack.host.boundary.FaultContained`; it never ends the node.
        """
        if self._closing:
            raise NodeClosed("the node is shutting down")
        self._nursery.start_soon(self.faults.run, "task", fn, *args)

    def protect(self, peer: PeerId, tag: str) -> None:
        """Never trim connections to ``peer`` while ``tag`` (or another tag) protects it."""
        self._manager.protect(peer, tag)

    def stats(self) -> dict[str, Any]:
        """Counters for operators, as plain JSON data: connections, pending handshakes,
        streams, reserved memory, refusals by scope and limit, contained faults by boundary
        and exception type, evictions and trimmed connections."""
        return node_stats(self)

    @property
    def connections_trimmed(self) -> int:
        """Connections closed so far because there were more than the high-water mark."""
        return self._manager.trimmed

    def unprotect(self, peer: PeerId, tag: str) -> bool:
        """Remove one protection tag; return whether ``peer`` is still protected."""
        return self._manager.unprotect(peer, tag)

    @property
    def protocols(self) -> list[str]:
        """The protocol ids this node serves, sorted."""
        return self._handlers.protocols

    def add_connection_callback(self, callback: Callable[[Connection], None]) -> None:
        """Call ``callback(connection)`` synchronously for every new connection.

        Use :meth:`Connection.spawn` from the callback to do asynchronous work.
        """
        self._connection_callbacks.append(callback)

    @property
    def connection_callbacks(self) -> tuple[Callable[[Connection], None], ...]:
        """The callbacks added with :meth:`add_connection_callback`, in order."""
        return tuple(self._connection_callbacks)

    # ---------------------------------------------------------------- listening
    async def listen(self, addr: Multiaddr | str) -> list[Multiaddr]:
        """Listen on ``addr`` and return the bound addresses (port 0 resolved).

        Raises:
            MultiaddrNotSupported: no transport can listen on ``addr``.
            TransportError: binding failed.
        """
        return await self._listeners.listen(Multiaddr(addr) if isinstance(addr, str) else addr)

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        """The bound addresses, wildcards expanded to the host's addresses, without /p2p."""
        return self._listeners.addrs

    @property
    def addrs(self) -> list[Multiaddr]:
        """:attr:`listen_addrs` with ``/p2p/<our id>`` appended: what others dial."""
        return [a.with_peer_id(self.peer_id) for a in self.listen_addrs]

    def set_announced_addrs(self, addrs: Iterable[Multiaddr]) -> None:
        """Announce ``addrs`` besides :attr:`listen_addrs` (e.g. a UPnP mapping); replaces them.

        Publishes :class:`~p2pstack.host.events.AnnouncedAddrsChanged` when they change.
        """
        self._own.announce(addrs)

    @property
    def reachability(self) -> ReachabilityStatus:
        """Whether others can dial us, as last measured (AutoNAT, UPnP); see
        :mod:`p2pstack.host.reachability`. ``UNKNOWN`` until something measured it."""
        return self._own.reachability

    def set_reachability(self, status: ReachabilityStatus, *, source: str) -> None:
        """Record a measured reachability; publishes
        :class:`~p2pstack.host.reachability.ReachabilityChanged` when it differs."""
        self._own.set_reachability(status, source=source)

    @property
    def announced_addrs(self) -> list[Multiaddr]:
        """What identify announces: :attr:`listen_addrs`, then the extra announced addresses."""
        return self._own.announced(self.listen_addrs)

    async def unlisten(self, addr: Multiaddr | str) -> bool:
        """Close the listener bound to ``addr`` (as :meth:`listen` returned it, or as given
        to it; a relayed ``/p2p-circuit`` listener too); return whether one was found.

        Publishes :class:`~p2pstack.host.events.ListenAddrRemoved` for each of its
        addresses and :class:`~p2pstack.host.events.ListenerClosed`. Established connections
        stay open.
        """
        addr = Multiaddr(addr) if isinstance(addr, str) else addr
        return await self._listeners.unlisten(addr.without_peer_id())

    # --------------------------------------------------------------------- bans
    async def ban_peer(self, peer: PeerId) -> None:
        """Refuse ``peer`` at every gater stage from now on and close its connections.

        Dials to it fail with ``ConnectionDenied`` (stage ``"dial"``); its inbound
        connections are refused once authenticated (stage ``"secured"``). Each refusal
        publishes :class:`~p2pstack.host.events.ConnectionRefused`.
        """
        self.bans.ban(peer)
        await self.hang_up(peer)

    def unban_peer(self, peer: PeerId) -> bool:
        """Lift the ban on ``peer``; return whether it was banned."""
        return self.bans.unban(peer)

    @property
    def banned_peers(self) -> frozenset[PeerId]:
        """The peers :meth:`ban_peer` banned."""
        return self.bans.peers

    # ----------------------------------------------------------- dialing relays
    @property
    def relay_fallback(self) -> bool:
        """Whether a dial whose direct addresses all failed is retried through the dialing
        relays (:meth:`add_dialing_relay`); initially ``NodeConfig.relay_fallback`` (off by
        default). A peer's own relays (added with
        ``peer=``) are tried whatever this says."""
        return self._dialer.relay_fallback

    @relay_fallback.setter
    def relay_fallback(self, on: bool) -> None:
        self._dialer.relay_fallback = on

    def add_dialing_relay(self, relay: Multiaddr | PeerId, *, peer: PeerId | None = None) -> None:
        """Dial through ``relay`` (``/.../p2p/<relay id>``, or its peer id when the peer
        store knows its addresses) when direct dials fail: for every peer when
        :attr:`relay_fallback` is on, or always for ``peer`` when given.

        Raises:
            InvalidConfigError: ``relay`` has no ``/p2p/<id>`` or is itself relayed.
        """
        self._dialer.add_relay(relay, peer)

    def remove_dialing_relay(
        self, relay: Multiaddr | PeerId, *, peer: PeerId | None = None
    ) -> bool:
        """Stop dialling through ``relay`` (``peer``'s own relay when given); return whether
        it was a dialing relay."""
        return self._dialer.remove_relay(relay, peer)

    @property
    def dialing_relays(self) -> tuple[Multiaddr, ...]:
        """The relays :meth:`add_dialing_relay` added for every peer, in order."""
        return self._dialer.relays

    @property
    def peer_relays(self) -> dict[PeerId, tuple[Multiaddr, ...]]:
        """The relays added for one peer each (``add_dialing_relay(..., peer=...)``)."""
        return self._dialer.peer_relays

    # -------------------------------------------------------------------- state
    def export_state(self) -> dict[str, Any]:
        """Bans, peer addresses, dialing relays and the services' state (a request-response
        firewall's rules) as JSON-ready data; see :mod:`p2pstack.host.state`."""
        return export_state(self)

    def import_state(self, data: Mapping[str, Any]) -> None:
        """Merge what :meth:`export_state` wrote. Raises InvalidConfigError when malformed."""
        import_state(self, data)

    # ------------------------------------------------------------------ dialling
    def transport_for(self, addr: Multiaddr) -> Transport:
        """The first transport that dials ``addr``. Raises MultiaddrNotSupported."""
        for transport in self.transports:
            if transport.can_dial(addr):
                return transport
        raise MultiaddrNotSupported(f"no transport can dial {addr}")

    async def dial(self, target: Multiaddr | PeerId | str) -> Connection:
        """Return a connection to ``target``, reusing an open one to the same peer.

        ``target`` is a multiaddr (a trailing ``/p2p/<id>`` pins the expected peer), a
        multiaddr string, or a peer id whose addresses the peer store knows.

        Raises:
            DialError: every address failed (each attempt and its error are listed).
            MultiaddrNotSupported, PeerIdMismatch, ConnectionDenied, NodeClosed.
        """
        if self._closing:
            raise NodeClosed("the node is shutting down")
        if isinstance(target, str):
            target = Multiaddr(target)
        return await self._dialer.dial(target)

    async def dial_punch(
        self, peer: PeerId, addrs: Sequence[Multiaddr], *, role: Role, delay: float = 0.0
    ) -> Connection:
        """A new direct connection to ``peer`` for a hole punch (DCUtR), dialled after
        ``delay`` seconds: ``addrs`` are raced as :meth:`dial` races them, an open connection
        is not reused, and the connection is upgraded as ``role`` whoever's TCP connect won
        (after a TCP simultaneous open both sides dialled: the roles come from the protocol).
        From the call on, until the dial ends, a connection accepted from one of ``addrs``
        is upgraded as ``role`` too (the peer's SYN reached our listener first).

        Raises:
            DialError: every address failed (each attempt is listed).
        """
        if self._closing:
            raise NodeClosed("the node is shutting down")
        return await self._dialer.dial_punch(peer, list(addrs), role=role, delay=delay)

    async def new_stream(
        self,
        target: Multiaddr | PeerId | str | Connection,
        protocols: str | Sequence[str],
        *,
        allow_limited: bool = False,
    ) -> NetStream:
        """Dial ``target`` if needed and open a stream for the first supported protocol.

        ``allow_limited``: run the protocol even over a limited (relayed) connection.
        """
        conn = target if isinstance(target, Connection) else await self.dial(target)
        return await conn.new_stream(protocols, allow_limited=allow_limited)

    # -------------------------------------------------------------- connections
    def connection_to(self, peer: PeerId) -> Connection | None:
        """The live connection to ``peer`` that new streams should use, or None.

        A direct connection is preferred to a limited (relayed) one; after a simultaneous
        connect both sides agree on the same connection: the one dialled by the smaller peer
        id (then the older one). The others are superseded and close once unused.
        """
        return self._manager.connection_to(peer)

    @property
    def connections(self) -> list[Connection]:
        """Every live connection."""
        return self._manager.connections

    async def hang_up(self, peer: PeerId) -> None:
        """Close every connection to ``peer``."""
        for conn in self._manager.connections_to(peer):
            await conn.aclose()

    async def admit(self, conn: Connection) -> None:
        """Apply the connection limits and the gater's last stage to an upgraded ``conn``.

        Raises:
            ConnectionDenied: the gater refused the connection (it is closed).
            LimitExceeded: a connection limit (total, per direction, per peer) is reached.
        """
        await self._manager.admit(conn)

    async def run_connection(
        self, conn: Connection, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve an admitted ``conn`` until it ends (the dialer and listeners use this)."""
        await self._manager.run(conn, task_status=task_status)

    async def start_connection(self, conn: Connection) -> None:
        """Run an admitted ``conn`` in the node's nursery; returns once it is being served."""
        await self._nursery.start(self.run_connection, conn)

    def handlers_for(self, conn: Connection) -> dict[str, StreamHandler]:
        """The handlers inbound streams on ``conn`` may negotiate (fewer when limited)."""
        return self._handlers.for_connection(limited=conn.limited)

    @property
    def services(self) -> tuple[Service, ...]:
        """The protocols and services started on this node, in start order (a service finds
        the others it works with here, e.g. XMPP discovery the UPnP service)."""
        return tuple(self._services)

    async def start_service(self, service: Service) -> None:
        """Start ``service`` in the node's nursery; returns once it started (raises what
        its start raised)."""
        self._services.append(service)
        await self._nursery.start(serve_service, service, self)

    # ----------------------------------------------------------------- shutdown
    async def aclose(self) -> None:
        """Stop listening, close every connection gracefully, then cancel every task."""
        if self._closing:
            return
        self._closing = True
        with trio.CancelScope(shield=True):
            await self._listeners.close_all()
            await close_connections(self.connections, grace=self.config.shutdown_grace)
        self._nursery.cancel_scope.cancel()


@asynccontextmanager
async def run_node(
    *,
    identity: Identity,
    transports: Sequence[Transport],
    security: Sequence[SecurityTransport],
    muxers: Sequence[StreamMuxer],
    protocols: Sequence[Service],
    services: Sequence[Service],
    gater: Gater | None,
    config: NodeConfig,
) -> AsyncIterator[Node]:
    """Run a node built from exactly these components (no defaults; the arguments are trusted).

    :func:`p2pstack.compose.open_node` checks the arguments and picks the defaults, then calls
    this. The node's gater is its ban list, then ``gater``, then what services contribute
    (:func:`~p2pstack.host.service.node_gater`); node-aware transports are attached, then the
    protocols and the services start, in order. The node stops (gracefully, then by
    cancellation) when the block exits.
    """
    bans = BanList()
    gater = node_gater(gater, [*protocols, *services], bans=bans)
    upgrader = Upgrader(
        identity=identity,
        security=list(security),
        muxers=list(muxers),
        gater=gater,
        negotiate_timeout=config.negotiate_timeout,
    )
    async with trio.open_nursery() as nursery:
        node = Node(
            identity=identity,
            transports=transports,
            upgrader=upgrader,
            gater=gater,
            config=config,
            nursery=nursery,
            bans=bans,
        )
        for transport in node.transports:
            if isinstance(transport, NodeAwareTransport):
                transport.attach(node)
        try:
            for service in [*protocols, *services]:
                await node.start_service(service)
            yield node
        finally:
            await node.aclose()
