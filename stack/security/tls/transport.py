"""The ``/tls/1.0.0`` security transport: a libp2p TLS 1.3 handshake, then a TlsStream."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final, final

import trio

from p2pstack.abc.security import SecurityTransport
from p2pstack.arguments import config_arg
from p2pstack.errors import HandshakeError, InvalidConfigError, ProtocolError, UnexpectedEOF
from p2pstack.identity.identity import Identity
from p2pstack.identity.peer_id import PeerId
from p2pstack.multistream.lazy import unwrap_negotiated
from p2pstack.role import Role
from p2pstack.security.tls.session import TlsSession
from p2pstack.security.tls.stream import DEFAULT_RECEIVE_SIZE, TlsStream

_log = logging.getLogger("p2pstack.tls")

PROTOCOL_ID: Final = "/tls/1.0.0"
_HANDSHAKE_READ_SIZE: Final = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    """Options of the TLS transport.

    Attributes:
        handshake_timeout: seconds the whole handshake may take before HandshakeError.
        receive_size: bytes a TlsStream asks its transport for per read (at least 1024).
        muxers: muxer protocol ids offered (dialing) and accepted (listening) through ALPN,
            preferred first: the inlined muxer negotiation, which saves the multistream round
            trip after the handshake. Default none: ALPN ``libp2p`` only, the muxer is then
            negotiated with multistream-select as over Noise. List only muxers the node has.
    """

    handshake_timeout: float = 10.0
    receive_size: int = DEFAULT_RECEIVE_SIZE
    muxers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (self.handshake_timeout > 0 and math.isfinite(self.handshake_timeout)):
            raise InvalidConfigError("handshake_timeout must be a positive number of seconds")
        if self.receive_size < 1024:
            raise InvalidConfigError("receive_size must be at least 1024 bytes")
        object.__setattr__(self, "muxers", tuple(self.muxers))
        for muxer in self.muxers:
            if not (isinstance(muxer, str) and muxer.startswith("/") and 1 < len(muxer) < 256):
                raise InvalidConfigError(f"muxers: {muxer!r} is not a protocol id")


@final
class TlsTransport:
    """The libp2p TLS 1.3 security transport (see :func:`tls`)."""

    __slots__ = ("config",)

    def __init__(self, config: TlsConfig) -> None:
        self.config = config

    @property
    def protocol_id(self) -> str:
        """``"/tls/1.0.0"``."""
        return PROTOCOL_ID

    async def secure_outbound(
        self, stream: trio.abc.Stream, identity: Identity, expected_peer: PeerId | None
    ) -> TlsStream:
        """Handshake as the TLS client; see SecurityTransport.secure_outbound."""
        return await self._run(stream, identity, Role.INITIATOR, expected_peer)

    async def secure_inbound(self, stream: trio.abc.Stream, identity: Identity) -> TlsStream:
        """Handshake as the TLS server; see SecurityTransport.secure_inbound."""
        return await self._run(stream, identity, Role.RESPONDER, None)

    async def _run(
        self,
        stream: trio.abc.Stream,
        identity: Identity,
        role: Role,
        expected_peer: PeerId | None,
    ) -> TlsStream:
        timeout = self.config.handshake_timeout
        try:
            with trio.fail_after(timeout):
                session = TlsSession(
                    identity, role=role, expected_peer=expected_peer, muxers=self.config.muxers
                )
                await _drive(stream, session)
        except BaseException as exc:
            await trio.aclose_forcefully(stream)
            _log.debug("TLS handshake failed: %r", exc)
            if isinstance(exc, trio.TooSlowError):
                raise HandshakeError(f"TLS handshake timed out after {timeout} s") from exc
            if isinstance(exc, trio.BrokenResourceError | trio.ClosedResourceError):
                raise HandshakeError("the transport failed during the TLS handshake") from exc
            if isinstance(exc, ProtocolError):
                raise HandshakeError(f"TLS handshake failed: {exc}") from exc
            raise
        remote = session.remote
        assert remote is not None  # set when the handshake completes
        return TlsStream(
            unwrap_negotiated(stream),
            session,
            local_peer=identity.peer_id,
            remote_peer=remote.peer_id,
            remote_public_key=remote.public_key,
            receive_size=self.config.receive_size,
            early_muxer=session.early_muxer,
        )


async def _drive(stream: trio.abc.Stream, session: TlsSession) -> None:
    """Exchange handshake records until the handshake completes (and our last flight left).

    A server's post-handshake records (session tickets) stay queued: they leave with its first
    application data, so a handshake never blocks on a peer that is not reading yet.
    """
    while True:
        if session.complete and session.role is Role.RESPONDER:
            return
        out = session.data_to_send()
        if out:
            await stream.send_all(out)
        if session.complete:
            return
        data = await stream.receive_some(_HANDSHAKE_READ_SIZE)
        if not data:
            raise UnexpectedEOF("the peer closed the connection during the TLS handshake")
        session.receive_data(data)


def tls(config: TlsConfig | None = None) -> SecurityTransport:
    """The ``/tls/1.0.0`` security transport with ``config`` (defaults: 10 s handshake timeout)."""
    return TlsTransport(config_arg(config, TlsConfig, "tls(config)"))
