"""The connection manager: the table of live connections, admission, and their lifecycle.

It applies the connection limits and the gater's last stage, serves each connection (muxer
session, inbound streams, idle policy), keeps one preferred connection per peer, and publishes
connection events. :class:`~stack.node.Node` owns one and delegates to it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import trio

from muxers.base import MuxedStream
from transports.base import RawConnection

from .connection import Connection, Direction
from .errors import (
    ConnectionDenied,
    LimitExceeded,
    NegotiationFailed,
    NodeClosed,
    ProtocolError,
    StackError,
)
from .events import ConnectionClosed, ConnectionOpened
from .identity import PeerId
from .limits import check
from .multistream import handle_protocol
from .netstream import NetStream

if TYPE_CHECKING:
    from .node import Node

logger: Final = logging.getLogger("p2pstack.node")

NETWORK_ERRORS: Final = (
    StackError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
    OSError,
)
"""What a peer can make a connection or stream task fail with; anything else is a bug."""


def describe(exc: BaseException) -> str:
    """``Type: message (caused by Type: message)`` for logs."""
    cause = exc.__cause__
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} (caused by {type(cause).__name__}: {cause})" if cause else text


class ConnectionManager:
    """Live connections of one node, by peer."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._connections: dict[PeerId, list[Connection]] = {}
        self.pending_inbound = 0
        """Inbound connections still in their handshake."""

    def connection_to(self, peer: PeerId) -> Connection | None:
        """See :meth:`Node.connection_to`."""
        for conn in self._connections.get(peer, []):
            if not conn.is_closed and not conn.superseded:
                return conn
        return None

    def connections_to(self, peer: PeerId) -> list[Connection]:
        """Every live connection to ``peer``, superseded ones included."""
        return [c for c in self._connections.get(peer, []) if not c.is_closed]

    @property
    def connections(self) -> list[Connection]:
        """Every live connection."""
        return [c for conns in self._connections.values() for c in conns if not c.is_closed]

    def count(self, direction: Direction | None, pending_outbound: int) -> int:
        """Live connections plus pending ones in ``direction`` (None: all)."""
        live = [c for c in self.connections if direction in (None, c.direction)]
        if direction is None:
            return len(live) + self.pending_inbound + pending_outbound
        pending = self.pending_inbound if direction is Direction.INBOUND else pending_outbound
        return len(live) + pending

    def check_inbound(self, raw: RawConnection, pending_outbound: int) -> None:
        """Raise LimitExceeded if one more inbound handshake would exceed a limit."""
        limits = self._node.config.limits
        what = f"inbound connection from {raw.remote_addr}"
        check(limits.max_pending_inbound, self.pending_inbound, "pending.inbound", what)
        inbound = self.count(Direction.INBOUND, pending_outbound)
        check(limits.max_inbound, inbound, "connections.inbound", what)
        check(limits.max_connections, self.count(None, pending_outbound), "connections.total", what)

    async def admit(self, conn: Connection) -> None:
        """Apply the connection limits and the gater's ``allow_upgraded`` stage.

        Raises:
            ConnectionDenied: the gater refused the connection (it is closed).
            LimitExceeded: a connection limit (total, per direction, per peer) is reached.
        """
        node = self._node
        limits = node.config.limits
        what = f"{conn.direction.value} connection with {conn.peer_id}"
        error: StackError | None = None
        try:
            check(limits.max_per_peer, len(self.connections_to(conn.peer_id)),
                  "connections.per_peer", what)  # fmt: skip
            live = self.connections
            directed = sum(1 for c in live if c.direction is conn.direction)
            cap = limits.max_inbound if conn.direction is Direction.INBOUND else limits.max_outbound
            check(cap, directed, f"connections.{conn.direction.value}", what)
            check(limits.max_connections, len(live), "connections.total", what)
        except LimitExceeded as exc:
            error = exc
        if error is None and not node.gater.allow_upgraded(conn):
            error = ConnectionDenied(
                f"gater refused the upgraded connection with {conn.peer_id}", stage="upgraded"
            )
        if error is None:
            return
        await trio.aclose_forcefully(conn.secure)
        conn.close_cause = error
        conn._closed.set()
        raise error

    def _supersede_duplicates(self, conn: Connection) -> None:
        """Keep one preferred connection per peer; both sides make the same choice."""
        live = self.connections_to(conn.peer_id)
        if len(live) < 2:
            return
        us = self._node.peer_id

        def rank(c: Connection) -> tuple[bool, bool, float]:
            dialer = us if c.direction is Direction.OUTBOUND else c.peer_id
            return (c.limited, dialer != min(us, c.peer_id), c.opened_at)

        keep = min(live, key=rank)
        for other in live:
            if other is not keep and not other.superseded:
                other.superseded = True
                other.touch()
                logger.debug("connection %s superseded by %s", other, keep)

    async def run(
        self, conn: Connection, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve an admitted ``conn`` until it ends."""
        node = self._node
        try:
            async with trio.open_nursery() as nursery:
                conn._nursery = nursery
                await nursery.start(conn.session.run)
                self._connections.setdefault(conn.peer_id, []).append(conn)
                self._supersede_duplicates(conn)
                nursery.start_soon(self._accept_streams, conn, nursery)
                nursery.start_soon(conn.watch_idle, node.config.idle_timeout)
                task_status.started()
                logger.debug("connection %s open", conn)
                for callback in node._connection_callbacks:
                    try:
                        callback(conn)
                    except NodeClosed:  # the connection ended already
                        break
                node.events.publish(ConnectionOpened(conn.peer_id, conn))
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
                node.events.publish(ConnectionClosed(conn.peer_id, conn, conn.close_cause))

    async def serve_inbound(self, raw: RawConnection) -> None:
        """Upgrade, admit and serve one accepted raw connection; failures are logged."""
        node = self._node
        try:
            with trio.fail_after(node.config.upgrade_timeout):
                upgraded = await node.upgrader.upgrade(raw, initiator=False)
        except NETWORK_ERRORS as exc:
            logger.info("inbound connection from %s failed: %s", raw.remote_addr, describe(exc))
            return
        finally:
            self.pending_inbound -= 1
        conn = Connection(
            node,
            upgraded.secure,
            upgraded.session,
            direction=Direction.INBOUND,
            local_addr=raw.local_addr,
            remote_addr=raw.remote_addr,
            security_protocol=upgraded.security_protocol,
            muxer_protocol=upgraded.muxer_protocol,
            limited=raw.limited,
        )
        try:
            await self.admit(conn)
        except (ConnectionDenied, LimitExceeded) as exc:
            logger.info("refused %s", exc)
            return
        await self.run(conn)

    async def _accept_streams(self, conn: Connection, nursery: trio.Nursery) -> None:
        while True:
            try:
                muxed = await conn.session.accept_stream()
            except (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError):
                return
            except StackError as exc:
                logger.debug("connection %s stopped accepting streams: %s", conn, exc)
                return
            nursery.start_soon(self._handle_stream, conn, muxed)

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
            conn.check_stream_limits(protocol, inbound=True)
        except LimitExceeded as exc:
            logger.warning("reset inbound stream from %s: %s", conn.peer_id.short(), exc)
            await muxed.reset()
            return
        stream = NetStream(muxed, protocol, conn, buffered.take_buffer(), inbound=True)
        node._stream_opened(conn.peer_id, protocol, inbound=True)
        try:
            await handler(stream)
        except NETWORK_ERRORS as exc:
            logger.debug("%s handler ended with %s", protocol, describe(exc))
            await stream.reset()
        except Exception:
            logger.exception("%s handler failed; resetting the stream", protocol)
            await stream.reset()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                await stream.aclose()
