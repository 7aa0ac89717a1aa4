"""Admitting one accepted raw connection: :class:`Acceptor`.

The order is the gater's accept stage, fair admission (:mod:`p2pstack.host.admission`),
then a connection scope of the resource manager; an admitted connection is upgraded and
served by the connection manager in the node's nursery (fault boundary
``"inbound-connection"``). Each refusal publishes
:class:`~p2pstack.host.events.ConnectionRefused`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.abc.transport import RawConnection
from p2pstack.errors import ConnectionDenied, LimitExceeded
from p2pstack.host.events import refused
from p2pstack.host.gater import consult
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.connmgr import ConnectionManager
    from p2pstack.host.dialer import Dialer
    from p2pstack.host.node import Node

logger: Final = logging.getLogger("p2pstack.node")


class Acceptor:
    """Decides on each accepted raw connection and starts its upgrade (owned by ``node``,
    whose gater, admission, resource manager, events and fault boundaries it uses)."""

    def __init__(
        self, node: Node, nursery: trio.Nursery, manager: ConnectionManager, dialer: Dialer
    ) -> None:
        self._node = node
        self._nursery = nursery
        self._manager = manager
        self._dialer = dialer

    def admit(self, raw: RawConnection) -> bool:
        """Gater, fair admission and resource accounting of ``raw``; start its upgrade and
        return True when admitted, return False when refused (the caller closes it)."""
        try:
            consult(
                lambda: self._node.gater.allow_accept(raw.remote_addr),
                stage="accept",
                refusal=f"the inbound connection from {raw.remote_addr}",
                on_bug=self._manager.gater_bug,
            )
        except ConnectionDenied as exc:
            logger.info("%s", exc)
            self._refused(exc, raw)
            return False
        try:
            ticket = self._node.admission.admit(raw.remote_addr, trio.current_time())
        except LimitExceeded as exc:
            self._node.resources.record(exc)
            self._refused(exc, raw)
            return False
        try:
            scope = self._node.resources.open_connection(
                role=Role.RESPONDER, exempt=ticket.allowlisted, address=ticket.address_key
            )
        except LimitExceeded as exc:
            ticket.done()
            self._refused(exc, raw)
            return False
        ticket.on_evict = scope.done
        # A hole punch's peer may reach our listener first: upgrade as the punch decided.
        role = self._dialer.punch_role(raw.remote_addr) or Role.RESPONDER
        self._nursery.start_soon(
            self._node.faults.run,
            "inbound-connection",
            self._manager.serve_inbound,
            raw,
            ticket,
            scope,
            role,
        )
        return True

    def _refused(self, exc: ConnectionDenied | LimitExceeded, raw: RawConnection) -> None:
        role = Role.RESPONDER
        self._node.events.publish(
            refused(exc, remote_addr=raw.remote_addr, peer_id=None, role=role)
        )
