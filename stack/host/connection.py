"""Connection: an upgraded (secured and multiplexed) connection to one peer."""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import trio

from p2pstack.abc.muxer import MuxedSession
from p2pstack.errors import LimitExceeded, NegotiationFailed, NodeClosed
from p2pstack.host.events import StreamOpened
from p2pstack.host.limits import check
from p2pstack.host.netstream import NetStream
from p2pstack.host.resources import ConnectionScope, StreamScope
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.multistream import select_protocol
from p2pstack.role import Role
from p2pstack.security import SecureStream

if TYPE_CHECKING:
    from p2pstack.abc.transport import RawConnection
    from p2pstack.host.node import Node
    from p2pstack.host.upgrader import Upgraded

logger: Final = logging.getLogger("p2pstack.connection")

LIMITED_OK_PROTOCOLS: Final = frozenset(
    {"/ipfs/id/1.0.0", "/ipfs/id/push/1.0.0", "/ipfs/ping/1.0.0", "/libp2p/dcutr"}
)
"""Protocols that run over limited connections without opting in (as in go and js)."""
_ids: Final = itertools.count(1)
SUPERSEDED_GRACE: Final = 5.0
"""How long the losing connection of a simultaneous connect may sit unused before closing."""


class Connection:
    """A live connection. Streams are opened with :meth:`new_stream`.

    The node owns its background tasks; :meth:`spawn` runs a task bound to the connection's
    lifetime (cancelled when the connection ends).

    Attributes:
        id: a number unique in this process (for logs).
        peer_id: the authenticated remote peer.
        role: ``Role.INITIATOR`` when we dialled, ``Role.RESPONDER`` when we accepted
            (``role.direction`` is ``"outbound"``/``"inbound"``).
        node: the node that owns the connection.
        secure: the secured stream (Noise) under the muxer.
        session: the muxer session.
        local_addr, remote_addr: the transport addresses (``local_addr`` may be None).
        security_protocol, muxer_protocol: the negotiated protocol ids.
        scope: the connection's resource scope.
        limited: a relayed connection under a relay's limits (see below).
        opened_at: when it was opened (trio time).
        close_cause: why it ended (None while open or after a clean local close).
        keep_alive, superseded, last_active: the idle policy's inputs (see below).
    """

    def __init__(
        self,
        node: Node,
        secure: SecureStream,
        session: MuxedSession,
        *,
        role: Role,
        local_addr: Multiaddr | None,
        remote_addr: Multiaddr,
        security_protocol: str,
        muxer_protocol: str,
        scope: ConnectionScope,
        limited: bool = False,
        handshake_seconds: float | None = None,
    ) -> None:
        self.id = next(_ids)
        self.scope = scope
        """This connection's resource scope (its muxer reserves window memory from it)."""
        self.node = node
        self.secure = secure
        self.session = session
        self.role = role
        self.local_addr = local_addr
        self.remote_addr = remote_addr
        self.security_protocol = security_protocol
        self.muxer_protocol = muxer_protocol
        self.limited = limited
        """A relayed connection under a relay's duration/data limit: only protocols that opt
        in (``allow_limited``, or :data:`LIMITED_OK_PROTOCOLS`) run over it."""
        self.peer_id: PeerId = secure.remote_peer
        self.opened_at = trio.current_time()
        self.handshake_seconds = handshake_seconds
        """How long the upgrade took (None if unknown)."""
        self.dial_seconds: float | None = None
        """For a connection we dialled: transport connect plus upgrade, in seconds."""
        self._nursery: trio.Nursery | None = None
        self._closed = False
        self._closed_event: trio.Event | None = None
        """Set once closed (created by the first :meth:`wait_closed` before then)."""
        self.close_cause: BaseException | None = None
        self.keep_alive = False
        """Set by a protocol that needs the connection even with no stream open (a relay
        reservation, say): the idle timeout then leaves it alone."""
        self.superseded = False
        """True for the losing side of a simultaneous connect; it closes once unused."""
        self._stream_counts: dict[tuple[str, Role], int] = {}
        self._idle_scope: trio.CancelScope | None = None
        self._idle_timeout: float | None = None
        self.last_active = self.opened_at
        """When a stream last opened or closed on this connection (trio time)."""

    @classmethod
    def from_upgrade(
        cls,
        node: Node,
        raw: RawConnection,
        upgraded: Upgraded,
        *,
        role: Role,
        scope: ConnectionScope,
    ) -> Connection:
        """The connection an upgrade of ``raw`` produced (not admitted or running yet)."""
        return cls(
            node,
            upgraded.secure,
            upgraded.session,
            role=role,
            local_addr=raw.local_addr,
            remote_addr=raw.remote_addr,
            security_protocol=upgraded.security_protocol,
            muxer_protocol=upgraded.muxer_protocol,
            scope=scope,
            limited=raw.limited,
            handshake_seconds=upgraded.seconds,
        )

    @property
    def num_streams(self) -> int:
        """Negotiated streams currently open on this connection (both directions)."""
        return self.scope.streams["inbound"] + self.scope.streams["outbound"]

    def reserve_stream(self, protocol: str, *, role: Role) -> StreamScope:
        """Check the stream limits for one more ``protocol`` stream and account it.

        ``role`` is ours on the stream: ``Role.INITIATOR`` when we opened it.

        Raises:
            LimitExceeded: a count limit (per connection, per protocol on this connection,
                per peer, system) or a scope's memory.
        """
        try:
            self._check_protocol_limit(protocol, role=role)
        except LimitExceeded as exc:
            exc.scope = self.scope.name
            self.node.resources.record(exc)
            raise
        # the scope checks (and counts) the per-connection, peer and system stream limits
        return self.scope.open_stream(role=role, protocol=protocol)

    def streams_of(self, protocol: str, *, role: Role) -> int:
        """Open streams of ``protocol`` on which we play ``role`` (INITIATOR: we opened them)."""
        return self._stream_counts.get((protocol, role), 0)

    def check_stream_limits(self, protocol: str | None, *, role: Role) -> None:
        """Raise LimitExceeded if one more stream (of ``protocol``) would exceed a limit."""
        limits = self.node.config.limits
        direction = role.direction
        total = limits.max_outbound_streams if role.is_initiator else limits.max_inbound_streams
        what = f"{direction} stream on connection {self.id} with {self.peer_id.short()}"
        check(total, self.scope.streams[direction], f"streams.{direction}", what)
        self._check_protocol_limit(protocol, role=role)

    def _check_protocol_limit(self, protocol: str | None, *, role: Role) -> None:
        per_protocol = self.node.config.limits.protocols.get(protocol) if protocol else None
        if per_protocol is not None:
            direction = role.direction
            cap = per_protocol.outbound if role.is_initiator else per_protocol.inbound
            what = f"{direction} stream on connection {self.id} with {self.peer_id.short()}"
            name = f"streams.protocol.{protocol}.{direction}"
            check(cap, self.streams_of(protocol or "", role=role), name, what)

    def stream_counts(self) -> dict[tuple[str, Role], int]:
        """Open streams by (protocol, our role on them); a copy."""
        return dict(self._stream_counts)

    def stream_opened(self, stream: NetStream) -> None:
        """Count ``stream`` as open (package-internal: a NetStream calls it once, when made)."""
        key = (stream.protocol, stream.role)
        self._stream_counts[key] = self._stream_counts.get(key, 0) + 1
        self.last_active = trio.current_time()
        self.touch()

    def stream_closed(self, stream: NetStream) -> None:
        """Count ``stream`` as closed (package-internal: a NetStream calls it once, at its end)."""
        key = (stream.protocol, stream.role)
        remaining = self._stream_counts[key] - 1
        if remaining:
            self._stream_counts[key] = remaining
        else:
            del self._stream_counts[key]
        self.last_active = trio.current_time()
        self.touch()

    def idle_scope(self, idle_timeout: float | None) -> trio.CancelScope:
        """A cancel scope whose deadline is the idle policy's (package-internal: the connection
        manager runs the connection's stream acceptor in it; one scope at a time).

        The deadline is ``idle_timeout`` seconds after the last stream activity (a stream
        opened or closed, :meth:`touch`) while the connection has no stream open and
        :attr:`keep_alive` is off; :data:`SUPERSEDED_GRACE` (at most) for a superseded
        connection, so a handle just returned by a dial stays usable; never otherwise. Once
        it expired (``cancelled_caught``), :meth:`close_if_idle` closes the connection.
        """
        self._idle_timeout = idle_timeout
        self._idle_scope = scope = trio.CancelScope(deadline=self._idle_deadline())
        return scope

    def _idle_deadline(self) -> float:
        if self.num_streams or self.keep_alive:
            return math.inf
        idle_timeout = self._idle_timeout
        delay = (
            min(SUPERSEDED_GRACE, idle_timeout or SUPERSEDED_GRACE)
            if self.superseded
            else idle_timeout
        )
        return math.inf if delay is None else trio.current_time() + delay

    async def close_if_idle(self) -> bool:
        """Close the connection if the idle policy says so now (its idle scope expired);
        return whether it did."""
        if self.num_streams or self.keep_alive or self._idle_deadline() == math.inf:
            return False
        reason = "superseded by another connection" if self.superseded else "idle"
        logger.debug("closing connection %s: %s", self, reason)
        await self.aclose()
        return True

    def touch(self) -> None:
        """Re-evaluate the idle policy now (after changing :attr:`keep_alive`)."""
        if self._idle_scope is not None:
            self._idle_scope.deadline = self._idle_deadline()

    @property
    def is_closed(self) -> bool:
        """True once the connection has ended."""
        return self._closed or self.session.is_closed

    @property
    def remote_addr_with_peer(self) -> Multiaddr:
        """The remote address including ``/p2p/<peer id>``."""
        return self.remote_addr.with_peer_id(self.peer_id)

    async def new_stream(
        self,
        protocols: str | Sequence[str],
        *,
        negotiate_timeout: float | None = None,
        allow_limited: bool = False,
    ) -> NetStream:
        """Open a stream and negotiate the first of ``protocols`` the peer supports.

        Raises:
            NegotiationFailed: the peer supports none of ``protocols`` (or negotiation timed
                out); the stream is closed.
            LimitExceeded: a local stream limit (total or for the negotiated protocol).
            trio.BrokenResourceError / trio.ClosedResourceError: the connection is gone.
        """
        wanted = [protocols] if isinstance(protocols, str) else list(protocols)
        if not wanted:
            raise ValueError("no protocol to negotiate")
        if self.limited and not allow_limited:
            wanted = [p for p in wanted if p in LIMITED_OK_PROTOCOLS]
            if not wanted:
                raise LimitExceeded(
                    f"connection {self.id} with {self.peer_id.short()} is limited (relayed); "
                    "pass allow_limited=True to run this protocol over it",
                    limit="connection.limited",
                )
        self.check_stream_limits(None, role=Role.INITIATOR)
        muxed = await self.session.open_stream()
        try:
            protocol, buffered = await select_protocol(
                muxed,
                wanted,
                timeout=self.node.config.negotiate_timeout
                if negotiate_timeout is None
                else negotiate_timeout,
            )
        except BaseException as exc:
            await trio.aclose_forcefully(muxed)
            if isinstance(exc, NegotiationFailed):
                logger.debug("peer %s supports none of %s", self.peer_id.short(), wanted)
            raise
        try:
            scope = self.reserve_stream(protocol, role=Role.INITIATOR)
        except LimitExceeded:
            await trio.aclose_forcefully(muxed)
            raise
        stream = NetStream(
            muxed, protocol, self, buffered.take_buffer(), role=Role.INITIATOR, scope=scope
        )
        self.node.events.publish(StreamOpened(self.peer_id, protocol, Role.INITIATOR))
        return stream

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: object) -> None:
        """Run ``fn(*args)`` in a task that ends with the connection.

        The task runs inside a fault boundary: an exception from it is logged, counted,
        published as :class:`~p2pstack.host.boundary.FaultContained` and closes the connection.

        Raises:
            NodeClosed: the connection is not running (anymore).
        """
        if self._nursery is None or self.is_closed:
            raise NodeClosed(f"connection {self.id} is not running")
        self._nursery.start_soon(self._guarded, fn, args)

    async def _guarded(self, fn: Callable[..., Awaitable[Any]], args: tuple[object, ...]) -> None:
        failed = False

        def close(_: BaseException) -> None:
            nonlocal failed
            failed = True

        with self.node.faults.contain("connection-task", self.peer_id, on_fault=close):
            await fn(*args)
        if failed:
            with trio.CancelScope(shield=True):
                await self.aclose()

    async def ping(self) -> float:
        """Round-trip time of a muxer-level ping, in seconds."""
        return await self.session.ping()

    async def aclose(self) -> None:
        """Close the connection gracefully (GoAway, then the transport). Idempotent."""
        await self.session.aclose()

    async def wait_closed(self) -> None:
        """Wait until the connection has ended and the node has forgotten it."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        if self._closed_event is None:
            self._closed_event = trio.Event()
        await self._closed_event.wait()

    def bind_nursery(self, nursery: trio.Nursery | None) -> None:
        """Package-internal (the connection manager): the nursery of the connection's tasks
        while it runs, None once it stopped; :meth:`spawn` starts tasks in it."""
        self._nursery = nursery

    def mark_closed(self, cause: BaseException | None) -> None:
        """Package-internal (the connection manager): the connection ended because of
        ``cause`` (None: cleanly) and the node forgot it; wakes :meth:`wait_closed`."""
        self.close_cause = cause
        self._closed = True
        if self._closed_event is not None:
            self._closed_event.set()

    def __repr__(self) -> str:
        return (
            f"<Connection {self.id} {self.role.direction} {self.peer_id.short()} "
            f"{self.remote_addr}>"
        )
