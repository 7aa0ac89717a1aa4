"""The contract between the connection upgrader and a security protocol (Noise, TLS...)."""

from __future__ import annotations

from typing import Protocol

import trio

from p2pstack.identity.identity import Identity
from p2pstack.identity.keys import PublicKey
from p2pstack.identity.peer_id import PeerId


class SecureStream(trio.abc.HalfCloseableStream):
    """An authenticated, encrypted byte stream.

    Besides the trio stream contract it names both ends: ``local_peer`` is our peer id,
    ``remote_peer`` the peer id the handshake authenticated and ``remote_public_key`` the key
    it proved to hold. Its methods raise only trio's Closed/Broken/BusyResourceError (with
    the protocol cause in ``__cause__``). ``early_muxer`` is the muxer protocol id the
    handshake already negotiated (TLS ALPN), None when the upgrader must negotiate one.
    """

    __slots__ = ()

    local_peer: PeerId
    remote_peer: PeerId
    remote_public_key: PublicKey
    early_muxer: str | None = None


class SecurityTransport(Protocol):
    """A security protocol the upgrader negotiates by ``protocol_id`` with multistream-select."""

    @property
    def protocol_id(self) -> str:
        """The multistream protocol id, e.g. ``"/noise"``."""
        ...

    async def secure_outbound(
        self, stream: trio.abc.Stream, identity: Identity, expected_peer: PeerId | None
    ) -> SecureStream:
        """Run the handshake as the dialer and return the secured stream.

        ``stream`` may already hold buffered bytes of this protocol; they are consumed normally.

        Raises:
            HandshakeError: the handshake failed or timed out (``PeerIdMismatch`` if the remote
                is not ``expected_peer``). ``stream`` has been closed.
        """
        ...

    async def secure_inbound(self, stream: trio.abc.Stream, identity: Identity) -> SecureStream:
        """Run the handshake as the listener; errors as for :meth:`secure_outbound`."""
        ...
