"""Errors specific to the Noise secure channel.

Handshake failures surface as :class:`~p2pstack.errors.HandshakeError` (cause chained); these are
the transport-phase causes behind the ``trio.BrokenResourceError`` a :class:`NoiseStream` raises.
"""

from __future__ import annotations

from p2pstack.errors import ProtocolError


class NoiseDecryptError(ProtocolError):
    """A transport frame failed authentication, or is too short to hold a tag."""


class NoiseNonceExhausted(ProtocolError):
    """A cipher direction used up its 2**64-1 nonces; the channel must be closed."""

    def __init__(
        self, message: str = "Noise nonce space exhausted", *, remote: bool = False
    ) -> None:
        super().__init__(message, remote=remote)
