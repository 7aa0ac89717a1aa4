"""The resource manager: system, transient, peer, protocol, service, connection and stream
scopes (in the spirit of go-libp2p's), each with limits on memory, connections and streams.

A connection's scope sits under the transient scope until its peer is authenticated, then
under that peer's scope; a stream's scope sits under its connection's and, once negotiated,
its protocol's (and its service's, when a service claims it). Every refusal is a
:class:`~p2pstack.errors.LimitExceeded` naming the scope and limit, logged, counted in
:attr:`ResourceManager.refusals` and passed to the ``on_refusal`` hook (the node publishes it
as a :class:`LimitRefused` event).
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from p2pstack.errors import LimitExceeded
from p2pstack.host.events import Event
from p2pstack.host.resources.limits import MemoryLimits
from p2pstack.host.resources.scope import ResourceScope, ScopeLimit
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.limits import ConnectionLimits
    from p2pstack.identity import PeerId

logger: Final = logging.getLogger("p2pstack.resources")

_ids: Final = itertools.count(1)


@dataclass(frozen=True, slots=True)
class LimitRefused(Event):
    """A resource limit refused something: ``scope`` (``"system"``, ``"peer:<id>"``,
    ``"connection:7"``...) and ``limit`` (``"memory"``, ``"streams.inbound"``...) say which.

    It carries text, not the exception: a traceback would keep the frames (and the buffers
    they reference) alive while the event waits in a subscriber's queue.
    """

    scope: str
    limit: str
    message: str


def _kind(scope_name: str) -> str:
    return scope_name.split(":", 1)[0]


class ResourceManager:
    """Scopes of one node. Build it from the node's connection and memory limits.

    ``exempt`` connections (allowlisted) are counted but never refused for connection
    counts; memory limits still apply to them.
    """

    def __init__(
        self,
        limits: ConnectionLimits,
        memory: MemoryLimits,
        *,
        on_refusal: Callable[[LimitExceeded], None] | None = None,
    ) -> None:
        self.limits = limits
        self.memory_limits = memory
        self.refusals: Counter[tuple[str, str]] = Counter()
        """``(scope kind, limit)`` -> refusals so far, e.g. ``("peer", "memory")``."""
        self._hook = on_refusal
        self.system = self._scope(
            "system",
            ScopeLimit(
                memory=memory.system,
                conns=limits.max_connections,
                conns_inbound=limits.max_inbound,
                conns_outbound=limits.max_outbound,
            ),
        )
        self.transient = self._scope(
            "transient",
            ScopeLimit(memory=memory.transient, conns_outbound=limits.max_pending_outbound),
            [self.system],
        )
        self._peers: dict[PeerId, ResourceScope] = {}
        self._addresses: dict[str, ResourceScope] = {}
        self._protocols: dict[str, ResourceScope] = {}
        self._services: dict[str, ResourceScope] = {}

    def _scope(
        self, name: str, limit: ScopeLimit, parents: list[ResourceScope] | None = None
    ) -> ResourceScope:
        return ResourceScope(name, limit, parents or [], on_refusal=self.record)

    def record(self, exc: LimitExceeded) -> None:
        """Log, count and publish a refusal (the scopes report theirs here too)."""
        self.refusals[_kind(exc.scope) or "admission", exc.limit] += 1
        logger.info("refused: %s", exc)
        if self._hook is not None:
            self._hook(exc)

    # ---- scopes by name ------------------------------------------------------------------

    def _named(
        self, table: dict[Any, ResourceScope], key: Any, name: str, limit: ScopeLimit
    ) -> ResourceScope:
        scope = table.get(key)
        if scope is None:
            scope = table[key] = self._scope(name, limit, [self.system])
        return scope

    @staticmethod
    def _forget(table: dict[Any, ResourceScope], key: Any) -> None:
        """Drop ``table[key]`` once it holds nothing (no memory, connection or stream)."""
        scope = table.get(key)
        if scope is None or scope.memory:
            return
        if not any(scope.conns.values()) and not any(scope.streams.values()):
            del table[key]

    def peer_scope(self, peer: PeerId) -> ResourceScope:
        """The scope of ``peer`` (created on first use, forgotten when unused)."""
        memory = self.memory_limits.peers.get(peer.to_base58(), self.memory_limits.peer)
        limit = ScopeLimit(memory=memory, conns=self.limits.max_per_peer)
        return self._named(self._peers, peer, f"peer:{peer}", limit)

    def address_scope(self, address: str) -> ResourceScope:
        """The scope of every inbound connection from ``address`` (an IP, or an IPv6 /64)."""
        limit = ScopeLimit(memory=self.memory_limits.address)
        return self._named(self._addresses, address, f"address:{address}", limit)

    def protocol_scope(self, protocol: str) -> ResourceScope:
        """The scope of every stream of ``protocol``, across peers."""
        limit = ScopeLimit(memory=self.memory_limits.protocols.get(protocol))
        return self._named(self._protocols, protocol, f"protocol:{protocol}", limit)

    def service_scope(self, service: str) -> ResourceScope:
        """The scope of a service (``"relay"``, ``"request-response"``...)."""
        limit = ScopeLimit(memory=self.memory_limits.services.get(service))
        return self._named(self._services, service, f"service:{service}", limit)

    def forget_peer(self, peer: PeerId) -> None:
        """Drop ``peer``'s scope if it holds nothing (package-internal: the connection scopes
        call it when they leave it)."""
        self._forget(self._peers, peer)

    def forget_address(self, address: str) -> None:
        """Drop ``address``'s scope if it holds nothing (package-internal, as
        :meth:`forget_peer`)."""
        self._forget(self._addresses, address)

    @property
    def peers(self) -> dict[PeerId, ResourceScope]:
        """Peer scopes in use."""
        return dict(self._peers)

    @property
    def addresses(self) -> dict[str, ResourceScope]:
        """Address scopes in use."""
        return dict(self._addresses)

    # ---- connections ---------------------------------------------------------------------

    def open_connection(
        self, *, role: Role, exempt: bool = False, address: str | None = None
    ) -> ConnectionScope:
        """Account a new connection on which we play ``role`` (in the transient scope until
        :meth:`ConnectionScope.set_peer`, and in ``address``'s scope for its whole life when
        given), with its fixed overhead reserved.

        Raises:
            LimitExceeded: a connection limit (total, per direction, pending outbound) or the
                transient or address memory.
        """
        return ConnectionScope(self, role=role, exempt=exempt, address=address)


class ConnectionScope(ResourceScope):
    """One connection's account; a :class:`~p2pstack.host.resources.MemoryBudget` for its muxer.

    Attributes:
        manager: the resource manager it belongs to.
        direction: ``"inbound"`` or ``"outbound"`` (the key of its counts).
        exempt: allowlisted: counted, never refused for connection counts.
        peer: the authenticated peer once :meth:`set_peer` moved it under its scope.
    """

    __slots__ = ("_address", "_done", "direction", "exempt", "manager", "peer")

    def __init__(
        self, manager: ResourceManager, *, role: Role, exempt: bool, address: str | None
    ) -> None:
        self._address = None if exempt else address
        extra = [manager.address_scope(self._address)] if self._address is not None else []
        super().__init__(
            f"connection:{next(_ids)}",
            ScopeLimit(
                memory=manager.memory_limits.connection,
                streams_inbound=manager.limits.max_inbound_streams,
                streams_outbound=manager.limits.max_outbound_streams,
            ),
            [manager.transient, *extra],
            on_refusal=manager.record,
        )
        self.manager = manager
        self.direction = role.direction
        self.exempt = exempt
        self.peer: PeerId | None = None
        self._done = False
        if exempt:  # counted, never refused
            for scope in self.chain:
                scope.conns[self.direction] += 1
        else:
            self.add("conns", self.direction)
        try:
            self.reserve_memory(manager.memory_limits.connection_overhead)
        except LimitExceeded:
            self.remove("conns", self.direction)
            self._done = True
            if self._address is not None:
                manager.forget_address(self._address)
            raise

    def set_peer(self, peer: PeerId) -> None:
        """Move the connection under ``peer``'s scope (its per-peer limits apply).

        Raises:
            LimitExceeded: the peer's connection count or memory; the connection stays
                transient (call :meth:`done`).
        """
        scope = self.manager.peer_scope(peer)
        parents = [scope, *self.parents[1:]]  # the address scope stays
        try:
            if self.exempt:
                saved = scope.limit
                scope.limit = ScopeLimit(memory=saved.memory)
                try:
                    self.reparent(parents, kind="conns", direction=self.direction)
                finally:
                    scope.limit = saved
            else:
                self.reparent(parents, kind="conns", direction=self.direction)
        except LimitExceeded:
            self.manager.forget_peer(peer)
            raise
        self.peer = peer

    def open_stream(self, *, role: Role, protocol: str | None = None) -> StreamScope:
        """Account a stream on which we play ``role`` on this connection (and its protocol,
        when known).

        Raises:
            LimitExceeded: streams per connection/peer/system, or the protocol's.
        """
        return StreamScope(self, role=role, protocol=protocol)

    def done(self) -> None:
        """The connection ended: release everything it held (idempotent)."""
        if self._done:
            return
        self._done = True
        self.release_memory(self.memory)
        self.remove("conns", self.direction)
        if self.peer is not None:
            self.manager.forget_peer(self.peer)
        if self._address is not None:
            self.manager.forget_address(self._address)


class StreamScope(ResourceScope):
    """One stream's account (request bodies and other per-stream buffers)."""

    __slots__ = ("_done", "connection", "direction", "protocol")

    def __init__(self, connection: ConnectionScope, *, role: Role, protocol: str | None) -> None:
        manager = connection.manager
        super().__init__(
            f"stream:{next(_ids)}",
            ScopeLimit(memory=manager.memory_limits.stream),
            [connection],
            on_refusal=manager.record,
        )
        self.connection = connection
        self.direction = role.direction
        self.protocol: str | None = None
        self._done = False
        self.add("streams", self.direction)
        if protocol is not None:
            try:
                self.set_protocol(protocol)
            except LimitExceeded:
                self.done()
                raise

    def set_protocol(self, protocol: str) -> None:
        """Count the stream in ``protocol``'s scope too. Raises LimitExceeded."""
        scope = self.connection.manager.protocol_scope(protocol)
        self.reparent([*self.parents, scope], kind="streams", direction=self.direction)
        self.protocol = protocol

    def set_service(self, service: str) -> None:
        """Count the stream in ``service``'s scope too. Raises LimitExceeded."""
        scope = self.connection.manager.service_scope(service)
        self.reparent([*self.parents, scope], kind="streams", direction=self.direction)

    def done(self) -> None:
        """The stream ended: release what it held (idempotent)."""
        if self._done:
            return
        self._done = True
        self.release_memory(self.memory)
        self.remove("streams", self.direction)
