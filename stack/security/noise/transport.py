"""The ``/noise`` security transport: handshake over a trio stream, then a NoiseStream."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final, final

import trio

from p2pstack.abc.security import SecurityTransport
from p2pstack.arguments import config_arg
from p2pstack.errors import HandshakeError, InvalidConfigError, UnexpectedEOF
from p2pstack.identity.identity import Identity
from p2pstack.identity.peer_id import PeerId
from p2pstack.multistream.lazy import unwrap_negotiated
from p2pstack.role import Role
from p2pstack.security.noise.handshake import NoiseHandshake, StaticKey
from p2pstack.security.noise.stream import DEFAULT_RECEIVE_SIZE, NoiseStream

_log = logging.getLogger("p2pstack.noise")

PROTOCOL_ID: Final = "/noise"
_HANDSHAKE_READ_SIZE: Final = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseConfig:
    """Options of the Noise transport.

    Attributes:
        handshake_timeout: seconds the whole handshake may take before HandshakeError.
        receive_size: bytes a NoiseStream asks its transport for per read.
        reuse_static_key: keep one X25519 static key (and its signed payload) per identity
            for all handshakes, saving a key generation and a signature per connection
            (default True); False: a fresh static key per handshake.
    """

    handshake_timeout: float = 10.0
    receive_size: int = DEFAULT_RECEIVE_SIZE
    reuse_static_key: bool = True

    def __post_init__(self) -> None:
        if not (self.handshake_timeout > 0 and math.isfinite(self.handshake_timeout)):
            raise InvalidConfigError("handshake_timeout must be a positive number of seconds")
        if self.receive_size < 1024:
            raise InvalidConfigError("receive_size must be at least 1024 bytes")


@final
class NoiseTransport:
    """The libp2p Noise XX security transport (see :func:`noise`)."""

    __slots__ = ("_statics", "config")

    def __init__(self, config: NoiseConfig) -> None:
        self.config = config
        self._statics: dict[PeerId, StaticKey] = {}

    def _static_for(self, identity: Identity) -> StaticKey | None:
        if not self.config.reuse_static_key:
            return None
        static = self._statics.get(identity.peer_id)
        if static is None:
            static = self._statics[identity.peer_id] = StaticKey(identity)
        return static

    @property
    def protocol_id(self) -> str:
        """``"/noise"``."""
        return PROTOCOL_ID

    async def secure_outbound(
        self, stream: trio.abc.Stream, identity: Identity, expected_peer: PeerId | None
    ) -> NoiseStream:
        """Handshake as the initiator; see SecurityTransport.secure_outbound."""
        handshake = NoiseHandshake(
            identity,
            role=Role.INITIATOR,
            expected_peer=expected_peer,
            static=self._static_for(identity),
        )
        return await self._run(stream, identity, handshake)

    async def secure_inbound(self, stream: trio.abc.Stream, identity: Identity) -> NoiseStream:
        """Handshake as the responder; see SecurityTransport.secure_inbound."""
        static = self._static_for(identity)
        handshake = NoiseHandshake(identity, role=Role.RESPONDER, static=static)
        return await self._run(stream, identity, handshake)

    async def _run(
        self, stream: trio.abc.Stream, identity: Identity, handshake: NoiseHandshake
    ) -> NoiseStream:
        timeout = self.config.handshake_timeout
        try:
            with trio.fail_after(timeout):
                await _drive(stream, handshake)
        except BaseException as exc:
            await trio.aclose_forcefully(stream)
            _log.debug("Noise handshake failed: %r", exc)
            if isinstance(exc, trio.TooSlowError):
                raise HandshakeError(f"Noise handshake timed out after {timeout} s") from exc
            if isinstance(exc, trio.BrokenResourceError | trio.ClosedResourceError):
                raise HandshakeError("the transport failed during the Noise handshake") from exc
            raise
        result = handshake.result
        return NoiseStream(
            unwrap_negotiated(stream),
            send_key=result.send_key,
            recv_key=result.recv_key,
            local_peer=identity.peer_id,
            remote_peer=result.remote_peer,
            remote_public_key=result.remote_public_key,
            initial_data=handshake.trailing_data,
            receive_size=self.config.receive_size,
        )


async def _drive(stream: trio.abc.Stream, handshake: NoiseHandshake) -> None:
    """Exchange handshake messages until the handshake completes."""
    while True:
        out = handshake.data_to_send()
        if out:
            await stream.send_all(out)
        if handshake.complete:
            return
        data = await stream.receive_some(_HANDSHAKE_READ_SIZE)
        if not data:
            cause = UnexpectedEOF("the peer closed the connection during the Noise handshake")
            raise HandshakeError(str(cause)) from cause
        handshake.receive_data(data)


def noise(config: NoiseConfig | None = None) -> SecurityTransport:
    """The ``/noise`` security transport with ``config`` (defaults: 10 s handshake timeout)."""
    return NoiseTransport(config_arg(config, NoiseConfig, "noise(config)"))
