"""Outbound dialling: address selection, shared attempts per peer, typed failures.

Addresses are dialled as they are: a name (``/dns*``, ``/dnsaddr``) is resolved by the
transport that dials it (:func:`p2pstack.transports.dns.dns` wraps the others).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.errors import DialError, StackError, TransportError
from p2pstack.host.connection import Connection
from p2pstack.host.gater import consult
from p2pstack.host.limits import check
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.node import Node

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
        self.pending = 0
        """Outbound dials in progress (connecting or upgrading)."""

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
        node = self._node
        if not addrs:
            raise DialError(f"no known addresses for {peer}")
        what = f"dial to {peer or addrs[0]}"
        check(node.config.limits.max_pending_outbound, self.pending, "pending.outbound", what)
        self.pending += 1
        try:
            conn = await self._race(peer, list(dict.fromkeys(addrs)), pending.attempts)
        finally:
            self.pending -= 1
        if conn is None:
            raise DialError(f"could not connect to {peer or addrs[0]}", pending.attempts)
        await node.admit(conn)
        await node.start_connection(conn)
        pending.connection = conn
        return conn

    async def _race(
        self,
        peer: PeerId | None,
        addrs: list[Multiaddr],
        attempts: list[tuple[str, BaseException]],
    ) -> Connection | None:
        """Dial ``addrs`` in order, each starting when the previous failed or after the
        stagger delay; the first upgraded connection wins and the other attempts stop."""
        node = self._node
        winner: list[Connection] = []
        failed = [trio.Event() for _ in addrs]

        async def attempt(index: int, addr: Multiaddr) -> None:
            try:
                conn = await self._dial_addr(addr, peer)
            except Exception as exc:  # the dial boundary: every failure is listed
                if not isinstance(exc, _ATTEMPT_ERRORS):
                    node.faults.record("dial", exc, peer)
                logger.debug("dial %s failed: %s", addr, exc)
                attempts.append((str(addr), exc))
                if peer is not None:
                    node.peerstore.mark_failure(peer, addr)
                failed[index].set()
                return
            if winner:  # lost the race by a hair
                conn.scope.done()
                await trio.aclose_forcefully(conn.secure)
                return
            winner.append(conn)
            node.peerstore.add_addrs(conn.peer_id, [addr])
            node.peerstore.mark_success(conn.peer_id, addr)
            nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            for index, addr in enumerate(addrs):
                nursery.start_soon(attempt, index, addr)
                if index + 1 < len(addrs):
                    with trio.move_on_after(node.config.dial_stagger):
                        await failed[index].wait()
        return winner[0] if winner else None

    async def _dial_addr(self, addr: Multiaddr, peer: PeerId | None) -> Connection:
        """Connect and upgrade one address; the connection is not admitted or running yet."""
        node = self._node
        transport = node.transport_for(addr)

        def gater_bug(exc: Exception) -> None:
            node.faults.record("gater", exc, peer)

        consult(
            lambda: node.gater.allow_dial(peer, addr),
            stage="dial",
            refusal=f"dialling {addr}",
            on_bug=gater_bug,
        )
        timeout = node.config.dial_timeout
        scope = node.resources.open_connection(role=Role.INITIATOR)
        started = trio.current_time()
        try:
            with trio.fail_after(timeout):
                raw = await transport.dial(addr)
                upgraded = await node.upgrader.upgrade(
                    raw,
                    role=Role.INITIATOR,
                    expected_peer=peer,
                    memory=scope,
                    on_gater_bug=gater_bug,
                )
        except trio.TooSlowError as exc:
            scope.done()
            raise TransportError(f"dialling {addr} timed out after {timeout} s") from exc
        except BaseException:
            scope.done()
            raise
        conn = Connection.from_upgrade(node, raw, upgraded, role=Role.INITIATOR, scope=scope)
        conn.dial_seconds = trio.current_time() - started
        return conn
