"""The transport contract: how raw byte streams are dialled and accepted.

A transport turns a multiaddr into a raw trio stream. It knows nothing of security or muxing:
the node's upgrader runs the fixed layer order on top of whatever the transport returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

import trio

from p2pstack.abc.budget import MemoryBudget
from p2pstack.abc.muxer import MuxedSession
from p2pstack.abc.security import SecureStream
from p2pstack.identity.peer_id import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.role import Role

ContextT_contra = TypeVar("ContextT_contra", contravariant=True)


class SecuredMuxed(Protocol):
    """A connection its transport secures and multiplexes itself (QUIC): the upgrader runs
    neither multistream-select nor a security handshake nor a muxer on it."""

    @property
    def security_protocol(self) -> str:
        """What secured it (reported as ``Connection.security_protocol``)."""
        ...

    @property
    def muxer_protocol(self) -> str:
        """What multiplexes it (reported as ``Connection.muxer_protocol``)."""
        ...

    async def secure(self, expected_peer: PeerId | None) -> SecureStream:
        """Finish the transport's handshake and return the connection's secured handle (its
        ``remote_peer`` authenticated; closing it closes the connection).

        Raises:
            HandshakeError: failed or timed out (``PeerIdMismatch``: not ``expected_peer``).
        """
        ...

    def new_session(self, *, role: Role, memory: MemoryBudget) -> MuxedSession:
        """The connection's muxed session (not started); reserves from ``memory`` what the
        peer can make it hold. Raises LimitExceeded."""
        ...


@dataclass(frozen=True, slots=True)
class RawConnection:
    """A freshly dialled or accepted byte stream and the addresses of its two ends."""

    stream: trio.abc.Stream
    local_addr: Multiaddr | None
    remote_addr: Multiaddr
    limited: bool = False
    """True for a relayed connection under a relay's limit (see ``Connection.limited``)."""
    secured_muxed: SecuredMuxed | None = None
    """Set by a transport that secures and multiplexes by itself (QUIC); ``stream`` is then
    the connection's handle (closing it closes the connection)."""


class TransportListener(Protocol):
    """A bound listener. ``accept`` returns the next inbound raw connection."""

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        """The concrete addresses bound (port 0 resolved to the real port)."""
        ...

    async def accept(self) -> RawConnection:
        """Wait for the next inbound connection. Raises trio.ClosedResourceError once closed."""
        ...

    async def aclose(self) -> None:
        """Stop listening. Idempotent."""
        ...


class Transport(Protocol):
    """Dials and listens on the multiaddrs it supports."""

    name: str

    def can_dial(self, addr: Multiaddr) -> bool:
        """Whether this transport dials ``addr`` (which may end in ``/p2p/<id>``)."""
        ...

    def can_listen(self, addr: Multiaddr) -> bool:
        """Whether this transport can listen on ``addr``."""
        ...

    async def dial(self, addr: Multiaddr) -> RawConnection:
        """Open a raw connection to ``addr``. Raises TransportError (with cause) on failure."""
        ...

    async def listen(self, addr: Multiaddr) -> TransportListener:
        """Bind ``addr`` and return the listener. Raises TransportError on failure."""
        ...


@runtime_checkable
class NodeAwareTransport(Protocol[ContextT_contra]):
    """A transport that runs over the node it serves (the relay transport dials the relay and
    opens streams through the node).

    The node calls ``attach(context)`` once, before it starts listening or dialling.
    ``context`` is the narrow view of the node its protocols get
    (:class:`p2pstack.host.context.NodeContext`); this layer only fixes the hook, so a
    transport names the context type it needs and the foundation never imports the node.
    """

    def attach(self, context: ContextT_contra) -> None:
        """Remember ``context``; called once by the node it is given to."""
        ...
