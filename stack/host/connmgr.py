"""The connection manager: the table of live connections, admission, and their lifecycle.

It applies the connection limits and the gater's last stage, serves each connection (muxer
session, inbound streams, idle policy), keeps one preferred connection per peer, and publishes
connection events. :class:`~p2pstack.host.node.Node` owns one and delegates to it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.abc.muxer import MuxedStream
from p2pstack.abc.transport import RawConnection
from p2pstack.errors import (
    ConnectionDenied,
    LimitExceeded,
    NegotiationFailed,
    NodeClosed,
    ProtocolError,
    StackError,
)
from p2pstack.host.admission import Ticket
from p2pstack.host.boundary import NETWORK_ERRORS, StartedFlag, describe, forget_tracebacks
from p2pstack.host.connection import Connection
from p2pstack.host.events import (
    ConnectionClosed,
    ConnectionOpened,
    InboundUpgradeFailed,
    StreamOpened,
    refused,
)
from p2pstack.host.gater import refusal_of
from p2pstack.host.netstream import NetStream
from p2pstack.host.resources import ConnectionScope
from p2pstack.identity import PeerId
from p2pstack.multistream import handle_protocol
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.node import Node

logger: Final = logging.getLogger("p2pstack.node")

__all__ = ["NETWORK_ERRORS", "ConnectionManager", "describe"]


class ConnectionManager:
    """Live connections of one node, by peer."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._connections: dict[PeerId, dict[Connection, None]] = {}
        """Registered connections by peer, in registration order (a dict: O(1) removal)."""
        self._count = 0
        """Registered connections of all peers (closed ones until their removal)."""
        self._preferred: dict[PeerId, Connection] = {}
        """Per peer, the best-ranked registered connection (see _supersede_duplicates)."""
        self._protected: dict[PeerId, set[str]] = {}
        self._trimming = False
        self.trimmed = 0
        """Connections closed by trimming so far."""

    def connection_to(self, peer: PeerId) -> Connection | None:
        """See :meth:`Node.connection_to`."""
        for conn in self._connections.get(peer, ()):
            if not conn.is_closed and not conn.superseded:
                return conn
        return None

    def connections_to(self, peer: PeerId) -> list[Connection]:
        """Every live connection to ``peer``, superseded ones included."""
        return [c for c in self._connections.get(peer, ()) if not c.is_closed]

    @property
    def connections(self) -> list[Connection]:
        """Every live connection."""
        return [c for conns in self._connections.values() for c in conns if not c.is_closed]

    # ---- protection and trimming ------------------------------------------------------------

    def protect(self, peer: PeerId, tag: str) -> None:
        """Never trim connections to ``peer`` while any tag protects it."""
        self._protected.setdefault(peer, set()).add(tag)

    def unprotect(self, peer: PeerId, tag: str) -> bool:
        """Remove ``tag``; return whether ``peer`` is still protected."""
        tags = self._protected.get(peer)
        if tags is None:
            return False
        tags.discard(tag)
        if not tags:
            del self._protected[peer]
        return bool(tags)

    def is_protected(self, peer: PeerId) -> bool:
        """Whether a tag protects ``peer`` (or it is allowlisted)."""
        return peer in self._protected or peer.to_base58() in self._node.config.allow_peers

    def _maybe_trim(self) -> None:
        marks = self._node.config.watermarks
        if marks.high_water is None or self._trimming:
            return
        # _count bounds the live count from above: only count exactly when it may be over.
        if self._count > marks.high_water and len(self.connections) > marks.high_water:
            self._trimming = True
            self._node.spawn(self._trim)

    async def _trim(self) -> None:
        """Close the least useful connections down to the low-water mark."""
        try:
            marks = self._node.config.watermarks
            now = trio.current_time()
            live = self.connections
            excess = len(live) - marks.low_water
            candidates = [
                c
                for c in live
                if now - c.opened_at >= marks.grace and not self.is_protected(c.peer_id)
            ]

            def value(c: Connection) -> tuple[bool, bool, int, float]:
                return (not c.superseded, c.keep_alive, c.num_streams, c.last_active)

            victims = sorted(candidates, key=value)[: max(excess, 0)]
            if victims:
                logger.info(
                    "%d connections are above the high-water mark %s: trimming %d",
                    len(live), marks.high_water, len(victims),
                )  # fmt: skip
            self.trimmed += len(victims)
            async with trio.open_nursery() as nursery:
                for conn in victims:
                    nursery.start_soon(conn.aclose)
        finally:
            self._trimming = False

    async def admit(self, conn: Connection) -> None:
        """Apply the connection limits and the gater's ``allow_upgraded`` stage.

        A refusal publishes :class:`~p2pstack.host.events.ConnectionRefused`.

        Raises:
            ConnectionDenied: the gater refused the connection (it is closed).
            LimitExceeded: a connection limit (total, per direction, per peer) is reached.
        """
        node = self._node
        error: ConnectionDenied | LimitExceeded | None = None
        if conn.peer_id.to_base58() in node.config.allow_peers:
            conn.scope.exempt = True  # counted, never refused for connection counts
        try:
            conn.scope.set_peer(conn.peer_id)
        except LimitExceeded as exc:
            error = exc
        if error is None:
            error = self._ask_gater(conn)
        if error is None:
            return
        node.events.publish(
            refused(error, remote_addr=conn.remote_addr, peer_id=conn.peer_id, role=conn.role)
        )
        await trio.aclose_forcefully(conn.secure)
        conn.scope.done()
        conn.mark_closed(error)
        raise error

    def _ask_gater(self, conn: Connection) -> ConnectionDenied | None:
        """The gater's ``allow_upgraded`` verdict under the gater contract (see
        :func:`~p2pstack.host.gater.consult`): the refusal, or None."""
        return refusal_of(
            lambda: self._node.gater.allow_upgraded(conn),
            stage="upgraded",
            refusal=f"the upgraded connection with {conn.peer_id}",
            on_bug=lambda exc: self.gater_bug(exc, conn.peer_id),
        )

    def gater_bug(self, exc: Exception, peer: PeerId | None = None) -> None:
        """Count a gater's failure (not a refusal) as a fault of the ``"gater"`` boundary."""
        self._node.faults.record("gater", exc, peer)

    def _supersede_duplicates(self, conn: Connection) -> None:
        """Keep one preferred connection per peer; both sides make the same choice.

        Every live connection but the best-ranked one is marked superseded. The best one is
        kept per peer, so a new connection is compared with it alone (constant cost however
        many connections the peer has); only after the best one closed are the others
        ranked again.
        """
        peer = conn.peer_id
        best = self._preferred.get(peer)
        if best is None or best.is_closed:
            live = self.connections_to(peer)
            if not live:
                self._preferred.pop(peer, None)
                return
            best = min(live, key=self._rank)
            self._preferred[peer] = best
            if len(live) < 2:
                return
            for other in live:
                if other is not best:
                    self._mark_superseded(other, best)
            return
        if conn.is_closed or conn is best:
            return
        if self._rank(conn) < self._rank(best):
            self._preferred[peer] = conn
            self._mark_superseded(best, conn)
        else:
            self._mark_superseded(conn, best)

    def _rank(self, c: Connection) -> tuple[bool, bool, float]:
        """Lower is preferred: direct before limited, then the connection dialled by the
        peer with the smaller id, then the older one."""
        us = self._node.peer_id
        dialer = us if c.role is Role.INITIATOR else c.peer_id
        return (c.limited, dialer != min(us, c.peer_id), c.opened_at)

    @staticmethod
    def _mark_superseded(other: Connection, keep: Connection) -> None:
        if not other.superseded:
            other.superseded = True
            other.touch()
            logger.debug("connection %s superseded by %s", other, keep)

    async def run(
        self, conn: Connection, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve an admitted ``conn`` until it ends.

        A fault boundary: an exception from the connection's tasks after it started closes
        the connection and is contained (before ``task_status.started()`` it propagates to
        the starter).
        """
        status = StartedFlag(task_status)
        try:
            await self._run(conn, status)
        except BaseException:
            if not status.started_called:
                raise
            with self._node.faults.contain("connection", conn.peer_id):
                raise

    async def _run(self, conn: Connection, status: StartedFlag) -> None:
        node = self._node
        try:
            async with trio.open_nursery() as nursery:
                conn.bind_nursery(nursery)
                await nursery.start(self._run_session, conn, nursery.cancel_scope)
                self._connections.setdefault(conn.peer_id, {})[conn] = None
                self._count += 1
                self._supersede_duplicates(conn)
                self._maybe_trim()
                status.started()
                logger.debug("connection %s open", conn)
                for callback in node.connection_callbacks:
                    try:
                        callback(conn)
                    except NodeClosed:  # the connection ended already
                        break
                    except Exception as exc:  # the callback boundary
                        node.faults.record("connection-callback", exc, conn.peer_id)
                        forget_tracebacks(exc)
                node.events.publish(ConnectionOpened(conn.peer_id, conn))
                # This task accepts the inbound streams and applies the idle policy (no task
                # of its own for either); _run_session cancels it when the session ends.
                await self._serve(conn, nursery)
                await conn.session.wait_closed()
                nursery.cancel_scope.cancel()
        finally:
            conn.bind_nursery(None)
            conn.scope.done()
            conn.mark_closed(conn.session.close_reason)
            conns = self._connections.get(conn.peer_id)
            if conns is not None and conn in conns:
                del conns[conn]
                self._count -= 1
                if not conns:
                    del self._connections[conn.peer_id]
                    self._preferred.pop(conn.peer_id, None)
                elif self._preferred.get(conn.peer_id) is conn:
                    del self._preferred[conn.peer_id]  # ranked again on the next connection
                logger.debug("connection %s closed: %s", conn, conn.close_cause)
                node.events.publish(ConnectionClosed(conn.peer_id, conn, conn.close_cause))

    @staticmethod
    async def _run_session(
        conn: Connection,
        scope: trio.CancelScope,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run ``conn``'s muxer session; once it ended, cancel ``scope`` (the connection's
        other tasks)."""
        running = conn.session.run(task_status=task_status)
        # trio's task status holds the nursery the task started in: not kept by this frame
        del task_status
        await running
        await conn.session.wait_closed()
        scope.cancel()

    async def serve_inbound(
        self,
        raw: RawConnection,
        ticket: Ticket,
        scope: ConnectionScope,
        role: Role = Role.RESPONDER,
    ) -> None:
        """Upgrade, admit and serve one accepted raw connection as ``role`` (the responder,
        unless a hole punch assigned the initiator role to this peer's connection).

        The upgrade runs in ``ticket.cancel_scope`` (eviction cancels it) and within
        ``upgrade_timeout`` of the accept. A failed upgrade publishes
        :class:`~p2pstack.host.events.InboundUpgradeFailed`; a refusal (gater, limit,
        eviction) :class:`~p2pstack.host.events.ConnectionRefused`.
        """
        node = self._node
        try:
            upgraded = None
            try:
                with ticket.cancel_scope, trio.fail_after(node.config.upgrade_timeout):
                    upgraded = await node.upgrader.upgrade(
                        raw,
                        role=role,
                        memory=scope,
                        on_gater_bug=self.gater_bug,
                        on_refused=node.events.publish,
                    )
            except ConnectionDenied as exc:  # the upgrader published the refusal
                logger.info("refused %s", exc)
                return
            except NETWORK_ERRORS as exc:
                logger.info("inbound connection from %s failed: %s", raw.remote_addr, describe(exc))
                forget_tracebacks(exc)
                node.events.publish(InboundUpgradeFailed(raw.remote_addr, exc))
                return
            if upgraded is None:  # evicted by a newcomer from a less busy address
                logger.info("inbound handshake from %s evicted", raw.remote_addr)
                evicted = LimitExceeded(
                    f"the inbound handshake from {raw.remote_addr} was evicted for a newcomer",
                    limit="pending.inbound",
                )
                node.events.publish(
                    refused(evicted, remote_addr=raw.remote_addr, peer_id=None, role=Role.RESPONDER)
                )
                return
            ticket.established()
            conn = Connection.from_upgrade(node, raw, upgraded, role=role, scope=scope)
            try:
                await self.admit(conn)
            except (ConnectionDenied, LimitExceeded) as exc:
                logger.info("refused %s", exc)
                return
            await self.run(conn)
        finally:
            scope.done()
            ticket.done()

    async def _serve(self, conn: Connection, nursery: trio.Nursery) -> None:
        """Accept ``conn``'s inbound streams (each handled in a task of ``nursery``) until the
        session accepts no more, and close the connection once the idle policy says so
        (the connection's idle scope, see :meth:`Connection.idle_scope`)."""
        accepting = True
        while True:
            with conn.idle_scope(self._node.config.idle_timeout) as idle:
                while accepting:
                    try:
                        muxed = await conn.session.accept_stream()
                    except (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError):
                        accepting = False
                    except StackError as exc:
                        logger.debug("connection %s stopped accepting streams: %s", conn, exc)
                        accepting = False
                    else:
                        nursery.start_soon(self._guard_stream, conn, muxed)
                        del muxed  # not kept alive by this frame while waiting for the next
                await trio.sleep_forever()
            if idle.cancelled_caught and await conn.close_if_idle():
                return

    async def _guard_stream(self, conn: Connection, muxed: MuxedStream) -> None:
        """The stream boundary: any exception resets the stream and is contained."""
        with self._node.faults.contain("stream", conn.peer_id):
            try:
                await self._handle_stream(conn, muxed)
            except BaseException:
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(muxed)
                raise

    async def _handle_stream(self, conn: Connection, muxed: MuxedStream) -> None:
        node = self._node
        try:
            protocol, buffered = await handle_protocol(
                muxed, node.handlers_for(conn), timeout=node.config.negotiate_timeout
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
        handler = node.handlers_for(conn).get(protocol)
        if handler is None:  # removed while negotiating
            await muxed.reset()
            return
        try:
            scope = conn.reserve_stream(protocol, role=Role.RESPONDER)
        except LimitExceeded as exc:
            logger.info("reset inbound stream from %s: %s", conn.peer_id.short(), exc)
            await muxed.reset()
            return
        stream = NetStream(
            muxed, protocol, conn, buffered.take_buffer(), role=Role.RESPONDER, scope=scope
        )
        node.events.publish(StreamOpened(conn.peer_id, protocol, Role.RESPONDER))
        failed = False

        def reset(_: BaseException) -> None:
            nonlocal failed
            failed = True

        try:
            with node.faults.contain("handler", conn.peer_id, on_fault=reset, user_code=protocol):
                await handler(stream)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                if failed:
                    await stream.reset()
                await stream.aclose()
