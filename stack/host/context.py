"""What protocols, services and node-aware transports may use of the node: :class:`NodeContext`.

A protocol or service is typed against this narrow view, not against
:class:`~p2pstack.host.node.Node`: stream handlers, dialling and streams, the live connections,
the event bus, the peer store, listen addresses and background tasks. The node implements it
(structurally) and hands itself to :meth:`Service.serve <p2pstack.host.service.Service.serve>`
and to :meth:`NodeAwareTransport.attach <p2pstack.abc.transport.NodeAwareTransport.attach>`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from p2pstack.abc.transport import Transport
    from p2pstack.host.boundary import Faults
    from p2pstack.host.connection import Connection
    from p2pstack.host.events import EventBus
    from p2pstack.host.gater import Gater
    from p2pstack.host.netstream import NetStream
    from p2pstack.host.peerstore import PeerStore
    from p2pstack.host.reachability import ReachabilityStatus
    from p2pstack.identity import Identity, PeerId
    from p2pstack.multiaddr import Multiaddr
    from p2pstack.role import Role

StreamHandler = Callable[["NetStream"], Awaitable[None]]
"""Serves one inbound stream; the node closes the stream when the handler returns."""


class NodeContext(Protocol):
    """The node as its protocols and services see it (see the module docstring)."""

    # ------------------------------------------------------------------ who we are
    @property
    def peer_id(self) -> PeerId:
        """Our peer id."""
        ...

    @property
    def identity(self) -> Identity:
        """Our key pair (identify and discovery publish the public key)."""
        ...

    @property
    def events(self) -> EventBus:
        """The node's event bus (:mod:`p2pstack.host.events`)."""
        ...

    @property
    def peerstore(self) -> PeerStore:
        """Addresses, keys and protocols known per peer."""
        ...

    @property
    def gater(self) -> Gater:
        """The node's connection gater (relay servers and clients ask its relay hooks)."""
        ...

    @property
    def faults(self) -> Faults:
        """The node's fault boundaries (``faults.record``/``faults.contain``)."""
        ...

    @property
    def transports(self) -> Sequence[Transport]:
        """The node's transports, in preference order."""
        ...

    # ------------------------------------------------------------------- handlers
    def set_stream_handler(
        self, protocol: str, handler: StreamHandler, *, allow_limited: bool | None = None
    ) -> None:
        """Serve inbound streams negotiating ``protocol`` with ``handler``."""
        ...

    def remove_stream_handler(self, protocol: str) -> None:
        """Stop serving ``protocol``."""
        ...

    @property
    def protocols(self) -> list[str]:
        """The protocol ids served, sorted."""
        ...

    def add_connection_callback(self, callback: Callable[[Connection], None]) -> None:
        """Call ``callback(connection)`` synchronously for every new connection."""
        ...

    @property
    def services(self) -> Sequence[object]:
        """The protocols and services started so far, in start order."""
        ...

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: object) -> None:
        """Run ``fn(*args)`` as a background task of the node, inside a fault boundary."""
        ...

    # ---------------------------------------------------------- dialling, streams
    async def dial(self, target: Multiaddr | PeerId | str) -> Connection:
        """A connection to ``target`` (an open one is reused)."""
        ...

    async def dial_punch(
        self, peer: PeerId, addrs: Sequence[Multiaddr], *, role: Role, delay: float = 0.0
    ) -> Connection:
        """A new direct connection to ``peer`` at ``addrs`` after ``delay``, upgraded as
        ``role`` (DCUtR's simultaneous open)."""
        ...

    async def new_stream(
        self,
        target: Multiaddr | PeerId | str | Connection,
        protocols: str | Sequence[str],
        *,
        allow_limited: bool = False,
    ) -> NetStream:
        """Dial ``target`` if needed and open a stream for the first supported protocol."""
        ...

    def connection_to(self, peer: PeerId) -> Connection | None:
        """The live connection to ``peer`` new streams should use, or None."""
        ...

    @property
    def connections(self) -> list[Connection]:
        """Every live connection."""
        ...

    # ------------------------------------------------------------------ addresses
    async def listen(self, addr: Multiaddr | str) -> list[Multiaddr]:
        """Listen on ``addr`` (a relay service listens through relays this way)."""
        ...

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        """The bound addresses, wildcards expanded, without ``/p2p``."""
        ...

    @property
    def announced_addrs(self) -> list[Multiaddr]:
        """What identify announces: the listen addresses and the extra announced ones."""
        ...

    def set_announced_addrs(self, addrs: Iterable[Multiaddr]) -> None:
        """Announce ``addrs`` besides the listen addresses (e.g. a UPnP mapping)."""
        ...

    @property
    def reachability(self) -> ReachabilityStatus:
        """Whether others can dial us, as last measured (``UNKNOWN`` until measured)."""
        ...

    def set_reachability(self, status: ReachabilityStatus, *, source: str) -> None:
        """Record a measured reachability (publishes ``ReachabilityChanged`` on a change)."""
        ...
