"""The connection gater: one policy hook per upgrade stage.

Each hook returns normally to allow and raises :class:`~p2pstack.errors.ConnectionDenied` (or
returns False) to refuse. The default :class:`AllowAll` allows everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection


class Gater:
    """Base gater allowing everything; override the stages you police."""

    def allow_dial(self, peer: PeerId | None, addr: Multiaddr) -> bool:
        """Before dialling ``addr`` (for ``peer`` when known)."""
        return True

    def allow_accept(self, remote_addr: Multiaddr) -> bool:
        """Before any byte of an inbound connection from ``remote_addr`` is read."""
        return True

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, inbound: bool) -> bool:
        """After the security handshake authenticated ``peer``, before muxer negotiation."""
        return True

    def allow_upgraded(self, connection: Connection) -> bool:
        """After the muxer is up, before the connection is used."""
        return True


class AllowAll(Gater):
    """Allows every connection."""
