"""The node: transports, upgrader, connections, stream handlers and services in one place.

Compose one with :func:`open_node`. The node owns one nursery; every task it starts (listeners,
connections, stream handlers, services) lives in it and ends when the ``async with`` exits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import trio

from muxers.base import MuxedStream, StreamMuxer
from transports.base import NodeAwareTransport, RawConnection, Transport, TransportListener

from .connection import Connection, Direction
from .dialer import Dialer
from .errors import (
    ConnectionDenied,
    InvalidConfigError,
    MultiaddrNotSupported,
    NegotiationFailed,
    NodeClosed,
    ProtocolError,
    StackError,
)
from .events import (
    ConnectionClosed,
    ConnectionOpened,
    EventBus,
    ListenAddrAdded,
    ListenAddrRemoved,
    StreamOpened,
)
from .gater import AllowAll, Gater
from .identity import Identity, PeerId
from .multiaddr import Multiaddr
from .multistream import handle_protocol
from .netaddr import expand_wildcard
from .netstream import NetStream
from .peerstore import PeerStore
from .security import SecurityTransport
from .service import Service, StreamHandler
from .upgrader import Upgrader

logger: Final = logging.getLogger("p2pstack.node")

_NETWORK_ERRORS: Final = (
    StackError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
    OSError,
)


@dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """Timeouts (seconds) and limits of a node."""

    negotiate_timeout: float = 10.0
    """multistream-select round trips, per negotiation."""
    upgrade_timeout: float = 15.0
    """A whole inbound upgrade (security handshake and muxer negotiation)."""
    dial_timeout: float = 30.0
    """One outbound dial attempt, connect and upgrade included."""
    shutdown_grace: float = 2.0
    """How long closing connections gracefully may take when the node stops."""

    def __post_init__(self) -> None:
        for name in ("negotiate_timeout", "upgrade_timeout", "dial_timeout"):
            if getattr(self, name) <= 0:
                raise InvalidConfigError(f"{name} must be positive")
        if self.shutdown_grace < 0:
            raise InvalidConfigError("shutdown_grace must not be negative")


class Node:
    """A running p2pstack node. Build it with :func:`open_node`."""

    def __init__(
        self,
        *,
        identity: Identity,
        transports: Sequence[Transport],
        upgrader: Upgrader,
        gater: Gater,
        config: NodeConfig,
        nursery: trio.Nursery,
    ) -> None:
        self.identity = identity
        self.peer_id: PeerId = identity.peer_id
        self.transports = list(transports)
        self.upgrader = upgrader
        self.gater = gater
        self.config = config
        self.peerstore = PeerStore()
        self.events = EventBus()
        self._nursery = nursery
        self._handlers: dict[str, StreamHandler] = {}
        self._listeners: list[TransportListener] = []
        self._connections: dict[PeerId, list[Connection]] = {}
        self._connection_callbacks: list[Callable[[Connection], None]] = []
        self._dialer = Dialer(self)
        self._closing = False

    # ----------------------------------------------------------------- handlers
    def set_stream_handler(self, protocol: str, handler: StreamHandler) -> None:
        """Serve inbound streams negotiating ``protocol`` with ``handler``."""
        if not protocol.startswith("/"):
            raise InvalidConfigError(f"protocol ids start with '/': {protocol!r}")
        self._handlers[protocol] = handler

    def remove_stream_handler(self, protocol: str) -> None:
        """Stop serving ``protocol`` (no-op when it was not served)."""
        self._handlers.pop(protocol, None)

    @property
    def protocols(self) -> list[str]:
        """The protocol ids this node serves, sorted."""
        return sorted(self._handlers)

    def add_connection_callback(self, callback: Callable[[Connection], None]) -> None:
        """Call ``callback(connection)`` synchronously for every new connection.

        Use :meth:`Connection.spawn` from the callback to do asynchronous work.
        """
        self._connection_callbacks.append(callback)

    # ---------------------------------------------------------------- listening
    async def listen(self, addr: Multiaddr | str) -> list[Multiaddr]:
        """Listen on ``addr`` and return the bound addresses (port 0 resolved).

        Raises:
            MultiaddrNotSupported: no transport can listen on ``addr``.
            TransportError: binding failed.
        """
        addr = Multiaddr(addr) if isinstance(addr, str) else addr
        transport = next((t for t in self.transports if t.can_listen(addr)), None)
        if transport is None:
            raise MultiaddrNotSupported(f"no transport can listen on {addr}")
        listener = await transport.listen(addr)
        self._listeners.append(listener)
        self._nursery.start_soon(self._accept_loop, listener)
        for bound in listener.listen_addrs:
            logger.info("listening on %s/p2p/%s", bound, self.peer_id)
            self.events.publish(ListenAddrAdded(bound))
        return listener.listen_addrs

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        """The bound addresses, wildcards expanded to the host's addresses, without /p2p."""
        out: list[Multiaddr] = []
        for listener in self._listeners:
            for addr in listener.listen_addrs:
                out.extend(a for a in expand_wildcard(addr) if a not in out)
        return out

    @property
    def addrs(self) -> list[Multiaddr]:
        """:attr:`listen_addrs` with ``/p2p/<our id>`` appended: what others dial."""
        return [a.with_peer_id(self.peer_id) for a in self.listen_addrs]

    async def _accept_loop(self, listener: TransportListener) -> None:
        while True:
            try:
                raw = await listener.accept()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            if not self.gater.allow_accept(raw.remote_addr):
                logger.info("gater refused inbound connection from %s", raw.remote_addr)
                await trio.aclose_forcefully(raw.stream)
                continue
            self._nursery.start_soon(self._handle_inbound, raw)

    async def _handle_inbound(self, raw: RawConnection) -> None:
        try:
            with trio.fail_after(self.config.upgrade_timeout):
                upgraded = await self.upgrader.upgrade(raw, initiator=False)
        except _NETWORK_ERRORS as exc:
            logger.info("inbound connection from %s failed: %s", raw.remote_addr, _describe(exc))
            return
        conn = Connection(
            self,
            upgraded.secure,
            upgraded.session,
            direction=Direction.INBOUND,
            local_addr=raw.local_addr,
            remote_addr=raw.remote_addr,
            security_protocol=upgraded.security_protocol,
            muxer_protocol=upgraded.muxer_protocol,
        )
        try:
            await self.admit(conn)
        except ConnectionDenied as exc:
            logger.info("%s", exc)
            return
        await self.run_connection(conn)

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

    async def new_stream(
        self, target: Multiaddr | PeerId | str | Connection, protocols: str | Sequence[str]
    ) -> NetStream:
        """Dial ``target`` if needed and open a stream for the first supported protocol."""
        conn = target if isinstance(target, Connection) else await self.dial(target)
        return await conn.new_stream(protocols)

    # -------------------------------------------------------------- connections
    def connection_to(self, peer: PeerId) -> Connection | None:
        """The oldest live connection to ``peer``, or None."""
        for conn in self._connections.get(peer, []):
            if not conn.is_closed:
                return conn
        return None

    @property
    def connections(self) -> list[Connection]:
        """Every live connection."""
        return [c for conns in self._connections.values() for c in conns if not c.is_closed]

    async def hang_up(self, peer: PeerId) -> None:
        """Close every connection to ``peer``."""
        for conn in list(self._connections.get(peer, [])):
            await conn.aclose()

    async def admit(self, conn: Connection) -> None:
        """Apply the gater's ``allow_upgraded`` stage; close ``conn`` and raise if refused.

        Raises:
            ConnectionDenied: the gater refused the connection.
        """
        if self.gater.allow_upgraded(conn):
            return
        await trio.aclose_forcefully(conn.secure)
        conn.close_cause = ConnectionDenied(
            f"gater refused the upgraded connection with {conn.peer_id}", stage="upgraded"
        )
        conn._closed.set()
        raise conn.close_cause

    async def run_connection(
        self, conn: Connection, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve ``conn`` until it ends (used by the dialer and the listeners).

        Call :meth:`admit` first: it applies the gater's last stage.
        """
        try:
            async with trio.open_nursery() as nursery:
                conn._nursery = nursery
                await nursery.start(conn.session.run)
                self._connections.setdefault(conn.peer_id, []).append(conn)
                nursery.start_soon(self._accept_streams, conn)
                task_status.started()
                logger.debug("connection %s open", conn)
                for callback in self._connection_callbacks:
                    callback(conn)
                self.events.publish(ConnectionOpened(conn.peer_id, conn))
                await conn.session.wait_closed()
                nursery.cancel_scope.cancel()
        finally:
            conn._nursery = None
            conn.close_cause = conn.session.close_reason
            conn._closed.set()
            conns = self._connections.get(conn.peer_id, [])
            if conn in conns:
                conns.remove(conn)
                if not conns:
                    del self._connections[conn.peer_id]
                logger.debug("connection %s closed: %s", conn, conn.close_cause)
                self.events.publish(ConnectionClosed(conn.peer_id, conn, conn.close_cause))

    async def _accept_streams(self, conn: Connection) -> None:
        while True:
            try:
                muxed = await conn.session.accept_stream()
            except (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError):
                return
            except StackError as exc:
                logger.debug("connection %s stopped accepting streams: %s", conn, exc)
                return
            conn.spawn(self._handle_stream, conn, muxed)

    async def _handle_stream(self, conn: Connection, muxed: MuxedStream) -> None:
        try:
            protocol, buffered = await handle_protocol(
                muxed, self._handlers, timeout=self.config.negotiate_timeout
            )
        except (
            NegotiationFailed,
            ProtocolError,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
        ) as exc:
            logger.debug("inbound stream from %s not negotiated: %s", conn.peer_id.short(), exc)
            await trio.aclose_forcefully(muxed)
            return
        handler = self._handlers.get(protocol)
        stream = NetStream(muxed, protocol, conn, buffered.take_buffer())
        if handler is None:  # removed while negotiating
            await stream.reset()
            return
        self._stream_opened(conn.peer_id, protocol, inbound=True)
        try:
            await handler(stream)
        except _NETWORK_ERRORS as exc:
            logger.debug("%s handler ended with %s", protocol, _describe(exc))
            await stream.reset()
        except Exception:
            logger.exception("%s handler failed; resetting the stream", protocol)
            await stream.reset()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.aclose()

    def _stream_opened(self, peer: PeerId, protocol: str, *, inbound: bool) -> None:
        self.events.publish(StreamOpened(peer, protocol, inbound))

    # ----------------------------------------------------------------- shutdown
    async def aclose(self) -> None:
        """Stop listening, close every connection gracefully, then cancel every task."""
        if self._closing:
            return
        self._closing = True
        with trio.CancelScope(shield=True):
            for listener in self._listeners:
                for addr in listener.listen_addrs:
                    self.events.publish(ListenAddrRemoved(addr))
                await listener.aclose()
            with trio.move_on_after(self.config.shutdown_grace):
                async with trio.open_nursery() as nursery:
                    for conn in self.connections:
                        nursery.start_soon(conn.aclose)
        self._nursery.cancel_scope.cancel()


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} (caused by {type(cause).__name__}: {cause})" if cause else text


@asynccontextmanager
async def open_node(
    *,
    identity: Identity | None = None,
    listen: Iterable[Multiaddr | str] = (),
    transports: Sequence[Transport] | None = None,
    security: Sequence[SecurityTransport] | None = None,
    muxers: Sequence[StreamMuxer] | None = None,
    protocols: Sequence[Service] | None = None,
    gater: Gater | None = None,
    config: NodeConfig | None = None,
) -> AsyncIterator[Node]:
    """Start a node; it stops (gracefully, then by cancellation) when the block exits.

    Args:
        identity: the node's key pair; a fresh Ed25519 identity when omitted.
        listen: addresses to listen on once the services are up.
        transports: in preference order; default ``[tcp()]``.
        security: in preference order; default ``[noise()]``.
        muxers: in preference order; default ``[yamux()]``.
        protocols: services such as ``ping()``, ``identify()``; default ping and identify.
        gater: connection policy; default allows everything.
        config: timeouts; see :class:`NodeConfig`.
    """
    from muxers.yamux import yamux
    from protocols.identify import identify
    from protocols.ping import ping
    from transports.tcp import tcp

    from .security.noise import noise

    identity = identity or Identity.generate()
    gater = gater or AllowAll()
    config = config or NodeConfig()
    upgrader = Upgrader(
        identity=identity,
        security=list(security) if security is not None else [noise()],
        muxers=list(muxers) if muxers is not None else [yamux()],
        gater=gater,
        negotiate_timeout=config.negotiate_timeout,
    )
    services: list[Service] = list(protocols) if protocols is not None else [ping(), identify()]
    async with trio.open_nursery() as nursery:
        node = Node(
            identity=identity,
            transports=list(transports) if transports is not None else [tcp()],
            upgrader=upgrader,
            gater=gater,
            config=config,
            nursery=nursery,
        )
        for transport in node.transports:
            if isinstance(transport, NodeAwareTransport):
                transport.attach(node)
        try:
            for service in services:
                await nursery.start(service.serve, node)
            for addr in listen:
                await node.listen(addr)
            yield node
        finally:
            await node.aclose()
