"""The handle a QUIC connection gives the node: the transport's raw stream, the upgrader's
secured stream and the connection's :class:`~p2pstack.abc.transport.SecuredMuxed` at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NoReturn, final

import trio

from p2pstack.abc.budget import MemoryBudget
from p2pstack.abc.security import SecureStream
from p2pstack.errors import PeerIdMismatch
from p2pstack.identity import PeerId
from p2pstack.role import Role
from p2pstack.transports.quic.session import QuicSession

SECURITY_PROTOCOL: Final = "/tls/1.0.0"
"""How ``Connection.security_protocol`` reports QUIC's TLS 1.3 (as go-libp2p does)."""
MUXER_PROTOCOL: Final = "quic-v1"
"""How ``Connection.muxer_protocol`` reports QUIC's own streams."""


@final
class QuicHandle(SecureStream):
    """One QUIC connection as the node sees it.

    It carries no byte stream of its own (streams are opened on the session): ``send_all``,
    ``receive_some`` and ``send_eof`` raise ``trio.ClosedResourceError``. ``aclose`` closes
    the connection. ``local_peer``/``remote_peer``/``remote_public_key`` are set by
    :meth:`secure`.
    """

    def __init__(
        self,
        session: QuicSession,
        local_peer: PeerId,
        *,
        on_secured: Callable[[QuicSession], None] | None = None,
    ) -> None:
        self.session = session
        self.local_peer = local_peer
        self._on_secured = on_secured

    @property
    def security_protocol(self) -> str:
        return SECURITY_PROTOCOL

    @property
    def muxer_protocol(self) -> str:
        return MUXER_PROTOCOL

    async def secure(self, expected_peer: PeerId | None) -> SecureStream:
        """Finish the handshake; check the peer is ``expected_peer``. Raises HandshakeError."""
        try:
            key = await self.session.handshake()
        finally:
            if self._on_secured is not None:
                self._on_secured(self.session)
        peer = key.to_peer_id()
        if expected_peer is not None and peer != expected_peer:
            await self.session.close(error_code=0, reason="peer id mismatch")
            raise PeerIdMismatch(expected_peer, peer)
        self.remote_peer = peer
        self.remote_public_key = key
        return self

    def new_session(self, *, role: Role, memory: MemoryBudget) -> QuicSession:
        """The connection's session; reserves its connection window from ``memory``."""
        self.session.reserve(memory)
        return self.session

    async def aclose(self) -> None:
        await self.session.aclose()

    async def _no_stream(self) -> NoReturn:
        await trio.lowlevel.checkpoint()
        raise trio.ClosedResourceError("a QUIC connection has no byte stream; open a stream")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._no_stream()

    async def wait_send_all_might_not_block(self) -> None:
        await self._no_stream()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await self._no_stream()

    async def send_eof(self) -> None:
        await self._no_stream()
