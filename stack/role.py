"""Role: which side of a connection, handshake or stream a party plays.

One enum for every layer: the side that dialled a connection is its ``INITIATOR`` (it runs
Noise as initiator, takes odd Yamux stream ids and is the multistream dialer); the side that
accepted it is the ``RESPONDER``. A relayed connection or a hole-punched one may assign roles
by protocol rather than by who connected (DCUtR), which is why this is a role, not a direction.
"""

from __future__ import annotations

import enum


class Role(enum.Enum):
    """``INITIATOR`` (dialled, outbound) or ``RESPONDER`` (accepted, inbound)."""

    INITIATOR = "initiator"
    RESPONDER = "responder"

    @property
    def is_initiator(self) -> bool:
        """True for ``INITIATOR``."""
        return self is Role.INITIATOR

    @property
    def opposite(self) -> Role:
        """The role of the other side."""
        return Role.RESPONDER if self is Role.INITIATOR else Role.INITIATOR

    @property
    def direction(self) -> str:
        """``"outbound"`` for the initiator, ``"inbound"`` for the responder (for logs, stats)."""
        return "outbound" if self is Role.INITIATOR else "inbound"
