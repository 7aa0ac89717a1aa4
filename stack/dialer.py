"""Outbound dialling: address selection, shared attempts per peer, typed failures."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import trio

from .connection import Connection, Direction
from .errors import ConnectionDenied, DialError, StackError, TransportError
from .identity import PeerId
from .multiaddr import Multiaddr

if TYPE_CHECKING:
    from .node import Node

logger: Final = logging.getLogger("p2pstack.dialer")

_ATTEMPT_ERRORS: Final = (
    StackError,
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
)


@dataclass(eq=False)
class _PendingDial:
    done: trio.Event = field(default_factory=trio.Event)
    connection: Connection | None = None
    attempts: list[tuple[str, BaseException]] = field(default_factory=list)


class Dialer:
    """Dials for one node. Concurrent dials to one peer share a single attempt."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._pending: dict[PeerId, _PendingDial] = {}

    async def dial(self, target: Multiaddr | PeerId) -> Connection:
        """See :meth:`Node.dial`."""
        node = self._node
        if isinstance(target, PeerId):
            peer: PeerId | None = target
            addrs = [a.with_peer_id(target) for a in node.peerstore.addrs(target)]
        else:
            peer = target.peer_id()
            addrs = [target]
        if peer is None:
            return await self._dial_addrs(None, addrs, _PendingDial())
        existing = node.connection_to(peer)
        if existing is not None:
            return existing
        pending = self._pending.get(peer)
        if pending is not None:
            await pending.done.wait()
            if pending.connection is not None and not pending.connection.is_closed:
                return pending.connection
            raise DialError(f"the shared dial to {peer} failed", pending.attempts)
        pending = self._pending[peer] = _PendingDial()
        try:
            return await self._dial_addrs(peer, addrs, pending)
        finally:
            pending.done.set()
            del self._pending[peer]

    async def _dial_addrs(
        self, peer: PeerId | None, addrs: list[Multiaddr], pending: _PendingDial
    ) -> Connection:
        if not addrs:
            raise DialError(f"no known addresses for {peer}")
        for addr in addrs:
            try:
                pending.connection = await self._dial_addr(addr, peer)
                return pending.connection
            except _ATTEMPT_ERRORS as exc:
                logger.debug("dial %s failed: %s", addr, exc)
                pending.attempts.append((str(addr), exc))
        raise DialError(f"could not connect to {peer or addrs[0]}", pending.attempts)

    async def _dial_addr(self, addr: Multiaddr, peer: PeerId | None) -> Connection:
        node = self._node
        transport = node.transport_for(addr)
        if not node.gater.allow_dial(peer, addr):
            raise ConnectionDenied(f"gater refused dialling {addr}", stage="dial")
        timeout = node.config.dial_timeout
        try:
            with trio.fail_after(timeout):
                raw = await transport.dial(addr)
                upgraded = await node.upgrader.upgrade(raw, initiator=True, expected_peer=peer)
        except trio.TooSlowError as exc:
            raise TransportError(f"dialling {addr} timed out after {timeout} s") from exc
        conn = Connection(
            node,
            upgraded.secure,
            upgraded.session,
            direction=Direction.OUTBOUND,
            local_addr=raw.local_addr,
            remote_addr=raw.remote_addr,
            security_protocol=upgraded.security_protocol,
            muxer_protocol=upgraded.muxer_protocol,
        )
        await node.admit(conn)
        await node._nursery.start(node.run_connection, conn)
        node.peerstore.add_addrs(conn.peer_id, [addr])
        return conn
