"""Reachability: whether others can dial this node, as a measured fact.

The node holds one :class:`ReachabilityStatus` (overall verdict and one verdict per
address). Only measurements change it: AutoNAT (``p2pstack.protocols.nat.autonat``) or a
confirmed UPnP mapping call :meth:`set_reachability <p2pstack.host.node.Node.set_reachability>`;
policies (auto-relay, XMPP presence) read :attr:`~p2pstack.host.node.Node.reachability` and
watch :class:`ReachabilityChanged`. Nothing here guesses from what an address looks like.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from p2pstack.host.events import Event

if TYPE_CHECKING:
    from p2pstack.multiaddr import Multiaddr


class Reachability(enum.Enum):
    """One verdict: dialable from outside (``PUBLIC``), not (``PRIVATE``), not yet known."""

    UNKNOWN = "unknown"
    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class ReachabilityStatus:
    """The overall verdict and the verdict per tested address (addresses without ``/p2p``).

    ``overall`` is ``PUBLIC`` when at least one address was confirmed dialable, ``PRIVATE``
    when every tested address failed, ``UNKNOWN`` before enough measurements.
    """

    overall: Reachability = Reachability.UNKNOWN
    by_addr: tuple[tuple[Multiaddr, Reachability], ...] = field(default=())

    @property
    def public_addrs(self) -> tuple[Multiaddr, ...]:
        """The addresses confirmed dialable from outside."""
        return tuple(a for a, r in self.by_addr if r is Reachability.PUBLIC)

    def of(self, addr: Multiaddr) -> Reachability:
        """The verdict for ``addr`` (``UNKNOWN`` when it was not tested)."""
        plain = addr.without_peer_id()
        for a, r in self.by_addr:
            if a == plain:
                return r
        return Reachability.UNKNOWN

    def to_json(self) -> dict[str, object]:
        """A JSON-ready view (``{"overall": "private", "addrs": {"/ip4/...": "private"}}``)."""
        return {"overall": self.overall.value, "addrs": {str(a): r.value for a, r in self.by_addr}}


@dataclass(frozen=True, slots=True)
class ReachabilityChanged(Event):
    """The node's reachability changed (overall verdict or any address's); ``source`` names
    what measured it (``"autonat"``, ``"upnp"``, or a user's label)."""

    status: ReachabilityStatus
    previous: ReachabilityStatus
    source: str
