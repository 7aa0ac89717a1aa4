"""NetStream: a negotiated protocol stream on a connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from p2pstack.abc.muxer import MuxedStream
from p2pstack.bufstream import BufferedStream
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection
    from p2pstack.host.resources import StreamScope
    from p2pstack.identity import PeerId


class NetStream(BufferedStream):
    """A muxed stream after protocol negotiation.

    It is a :class:`~p2pstack.bufstream.BufferedStream` (so length-prefixed helpers are at hand)
    that also knows its protocol id and its connection, and can be reset.

    Attributes:
        protocol: the negotiated protocol id.
        connection: the connection it runs on.
        role: ours on this stream: ``Role.INITIATOR`` if we opened it, ``Role.RESPONDER``
            if the peer did.
        muxed: the underlying muxed stream.
        scope: the stream's resource scope: reserve memory held for the peer from it.
    """

    def __init__(
        self,
        stream: MuxedStream,
        protocol: str,
        connection: Connection,
        initial: bytes = b"",
        *,
        role: Role,
        scope: StreamScope,
    ) -> None:
        super().__init__(stream, initial)
        self.muxed = stream
        self.protocol = protocol
        self.connection = connection
        self.role = role
        self.scope = scope
        self._released = False
        connection.stream_opened(self)

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self.scope.done()
            self.connection.stream_closed(self)

    @property
    def remote_peer(self) -> PeerId:
        """The authenticated peer at the other end."""
        return self.connection.peer_id

    async def reset(self) -> None:
        """Abort the stream in both directions (the peer sees a reset, not EOF)."""
        self._release()
        await self.muxed.reset()

    async def aclose(self) -> None:
        """Close the stream (see the muxer's stream ``aclose``); counts stop at once."""
        self._release()
        await super().aclose()

    def __repr__(self) -> str:
        return f"<NetStream {self.protocol} with {self.connection.peer_id.short()}>"
