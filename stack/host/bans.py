"""The node's ban list: peers refused at every gater stage.

:class:`BanList` is a :class:`~p2pstack.host.gater.Gater`; the node asks it before the user's
gater and the services' (see :func:`~p2pstack.host.service.node_gater`), so a banned peer is
refused whatever the other gaters say. :meth:`~p2pstack.host.node.Node.ban_peer` also closes
the peer's open connections.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from p2pstack.host.gater import Gater
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection


class BanList(Gater):
    """Refuses the banned peers at every stage where the peer is known.

    The accept stage knows only the remote address, so a banned peer's inbound connection
    is refused once its security handshake authenticated it (``allow_secured``). Relays
    refuse reservations for banned peers and circuits from or to them; a relay client
    refuses circuits from a banned source and through a banned relay.
    """

    def __init__(self, peers: Iterable[PeerId] = ()) -> None:
        self._banned: set[PeerId] = set(peers)

    def ban(self, peer: PeerId) -> bool:
        """Ban ``peer``; return whether it was not banned before."""
        new = peer not in self._banned
        self._banned.add(peer)
        return new

    def unban(self, peer: PeerId) -> bool:
        """Lift the ban on ``peer``; return whether it was banned."""
        if peer not in self._banned:
            return False
        self._banned.discard(peer)
        return True

    def __contains__(self, peer: object) -> bool:
        return peer in self._banned

    @property
    def peers(self) -> frozenset[PeerId]:
        """The banned peers."""
        return frozenset(self._banned)

    def allow_dial(self, peer: PeerId | None, addr: Multiaddr) -> bool:
        return peer not in self._banned and addr.peer_id() not in self._banned

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        return peer not in self._banned

    def allow_upgraded(self, connection: Connection) -> bool:
        return connection.peer_id not in self._banned

    def allow_relay_reservation(self, peer: PeerId, remote_addr: Multiaddr) -> bool:
        return peer not in self._banned

    def allow_relay_circuit(self, source: PeerId, target: PeerId) -> bool:
        return source not in self._banned and target not in self._banned

    def allow_relayed_accept(self, relay: PeerId, source: PeerId) -> bool:
        return relay not in self._banned and source not in self._banned
