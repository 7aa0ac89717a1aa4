"""The contract between the node and the protocols and services plugged into it.

A protocol (stream handlers: ping, identify, echo...) and a service (long-running: mDNS, UPnP,
auto-relay, XMPP discovery, a relay server) both implement :class:`Service`; the node starts
them with a :class:`~p2pstack.host.context.NodeContext`, never the whole node.

A service that also polices connections implements :class:`GaterProvider`: the node asks its
:attr:`~GaterProvider.gater` after the user's gater (:func:`node_gater`), so the user passes
the service once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import trio

from p2pstack.host.context import StreamHandler as StreamHandler
from p2pstack.host.gater import AllowAllConnections, Gater
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection
    from p2pstack.host.context import NodeContext


class Service(Protocol):
    """A protocol or background service (ping, identify, perf, discovery...).

    ``serve`` registers stream handlers and callbacks on ``context``, calls
    ``task_status.started()``, and then either returns or runs until cancelled when the node
    stops. Protocols start first, then services, each in the order given, before the node
    listens.
    """

    async def serve(
        self,
        context: NodeContext,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Attach to the node through ``context`` and run."""
        ...


@runtime_checkable
class GaterProvider(Protocol):
    """A service contributing a connection gater (e.g. XMPP discovery admits its contacts).

    The node consults ``gater`` at every stage, after the user's gater; a connection must pass
    both. ``gater`` is read once, when the node starts.
    """

    @property
    def gater(self) -> Gater:
        """The policy this service adds to the node's."""
        ...


@runtime_checkable
class StateProvider(Protocol):
    """A service with state the application persists (e.g. a request-response firewall's
    rules): :meth:`~p2pstack.host.node.Node.export_state` stores :meth:`export_state`
    under :attr:`state_key`, and :meth:`~p2pstack.host.node.Node.import_state` hands it
    back to the service with the same key."""

    @property
    def state_key(self) -> str:
        """A key unique among the node's services (e.g. ``"request-response:/app/1"``)."""
        ...

    def export_state(self) -> Any:
        """The service's state as JSON-ready data."""
        ...

    def import_state(self, data: Any) -> None:
        """Restore what :meth:`export_state` wrote; raise InvalidConfigError when malformed."""
        ...


class GaterChain(Gater):
    """Allows what every gater of ``gaters`` allows, asking them in order.

    The first refusal (False, or :class:`~p2pstack.errors.ConnectionDenied` raised) ends the
    stage; later gaters are not asked.
    """

    def __init__(self, gaters: Sequence[Gater]) -> None:
        self.gaters = tuple(gaters)

    def allow_dial(self, peer: PeerId | None, addr: Multiaddr) -> bool:
        return all(g.allow_dial(peer, addr) for g in self.gaters)

    def allow_accept(self, remote_addr: Multiaddr) -> bool:
        return all(g.allow_accept(remote_addr) for g in self.gaters)

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        return all(g.allow_secured(peer, remote_addr, role) for g in self.gaters)

    def allow_upgraded(self, connection: Connection) -> bool:
        return all(g.allow_upgraded(connection) for g in self.gaters)

    def allow_relay_reservation(self, peer: PeerId, remote_addr: Multiaddr) -> bool:
        return all(g.allow_relay_reservation(peer, remote_addr) for g in self.gaters)

    def allow_relay_circuit(self, source: PeerId, target: PeerId) -> bool:
        return all(g.allow_relay_circuit(source, target) for g in self.gaters)

    def allow_relayed_accept(self, relay: PeerId, source: PeerId) -> bool:
        return all(g.allow_relayed_accept(relay, source) for g in self.gaters)


def node_gater(
    user: Gater | None, services: Iterable[object], *, bans: Gater | None = None
) -> Gater:
    """The node's gater: ``bans`` (the node's :class:`~p2pstack.host.bans.BanList`, asked
    first so a banned peer is refused whatever the others say), ``user`` (allow-all when
    None), then each service's contribution."""
    gaters = [bans] if bans is not None else []
    gaters += [user] if user is not None else []
    gaters += [s.gater for s in services if isinstance(s, GaterProvider)]
    if len(gaters) == 1:
        return gaters[0]
    return GaterChain(gaters) if gaters else AllowAllConnections()
