"""Connection: an upgraded (secured and multiplexed) connection to one peer."""

from __future__ import annotations

import enum
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import trio

from muxers.base import MuxedSession

from .errors import NegotiationFailed, NodeClosed
from .identity import PeerId
from .multiaddr import Multiaddr
from .multistream import select_protocol
from .netstream import NetStream
from .security import SecureStream

if TYPE_CHECKING:
    from .node import Node

logger: Final = logging.getLogger("p2pstack.connection")
_ids: Final = itertools.count(1)


class Direction(enum.Enum):
    """Who dialled."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Connection:
    """A live connection. Streams are opened with :meth:`new_stream`.

    The node owns its background tasks; :meth:`spawn` runs a task bound to the connection's
    lifetime (cancelled when the connection ends).
    """

    def __init__(
        self,
        node: Node,
        secure: SecureStream,
        session: MuxedSession,
        *,
        direction: Direction,
        local_addr: Multiaddr | None,
        remote_addr: Multiaddr,
        security_protocol: str,
        muxer_protocol: str,
    ) -> None:
        self.id = next(_ids)
        self.node = node
        self.secure = secure
        self.session = session
        self.direction = direction
        self.local_addr = local_addr
        self.remote_addr = remote_addr
        self.security_protocol = security_protocol
        self.muxer_protocol = muxer_protocol
        self.peer_id: PeerId = secure.remote_peer
        self.opened_at = trio.current_time()
        self._nursery: trio.Nursery | None = None
        self._closed = trio.Event()
        self.close_cause: BaseException | None = None

    @property
    def is_closed(self) -> bool:
        """True once the connection has ended."""
        return self._closed.is_set() or self.session.is_closed

    @property
    def remote_addr_with_peer(self) -> Multiaddr:
        """The remote address including ``/p2p/<peer id>``."""
        return self.remote_addr.with_peer_id(self.peer_id)

    async def new_stream(
        self, protocols: str | Sequence[str], *, negotiate_timeout: float | None = None
    ) -> NetStream:
        """Open a stream and negotiate the first of ``protocols`` the peer supports.

        Raises:
            NegotiationFailed: the peer supports none of ``protocols`` (or negotiation timed
                out); the stream is closed.
            trio.BrokenResourceError / trio.ClosedResourceError: the connection is gone.
        """
        wanted = [protocols] if isinstance(protocols, str) else list(protocols)
        if not wanted:
            raise ValueError("no protocol to negotiate")
        muxed = await self.session.open_stream()
        try:
            protocol, buffered = await select_protocol(
                muxed,
                wanted,
                timeout=self.node.config.negotiate_timeout
                if negotiate_timeout is None
                else negotiate_timeout,
            )
        except BaseException as exc:
            await trio.aclose_forcefully(muxed)
            if isinstance(exc, NegotiationFailed):
                logger.debug("peer %s supports none of %s", self.peer_id.short(), wanted)
            raise
        self.node._stream_opened(self.peer_id, protocol, inbound=False)
        return NetStream(muxed, protocol, self, buffered.take_buffer())

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: object) -> None:
        """Run ``fn(*args)`` in a task that ends with the connection.

        Raises:
            NodeClosed: the connection is not running (anymore).
        """
        if self._nursery is None or self.is_closed:
            raise NodeClosed(f"connection {self.id} is not running")
        self._nursery.start_soon(fn, *args)

    async def ping(self) -> float:
        """Round-trip time of a muxer-level ping, in seconds."""
        return await self.session.ping()

    async def aclose(self) -> None:
        """Close the connection gracefully (GoAway, then the transport). Idempotent."""
        await self.session.aclose()

    async def wait_closed(self) -> None:
        """Wait until the connection has ended and the node has forgotten it."""
        await self._closed.wait()

    def __repr__(self) -> str:
        return (
            f"<Connection {self.id} {self.direction.value} {self.peer_id.short()} "
            f"{self.remote_addr}>"
        )
