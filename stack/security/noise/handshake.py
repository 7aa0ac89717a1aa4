"""The libp2p Noise XX handshake as a sans-IO object over noiseprotocol's ``NoiseConnection``.

``Noise_XX_25519_ChaChaPoly_SHA256``, empty prologue; the X25519 static key and its signed
payload come from a :class:`StaticKey` (the transport keeps one per identity and reuses it, as
the spec allows; without one, a fresh static key per handshake)::

    -> e                      msg1, empty payload
    <- e, ee, s, es           msg2, responder's signed payload
    -> s, se                  msg3, initiator's signed payload

Feed received bytes to :meth:`NoiseHandshake.receive_data`, send whatever
:meth:`NoiseHandshake.data_to_send` returns, until :attr:`NoiseHandshake.complete`. Then
:attr:`NoiseHandshake.result` holds the authenticated peer and the two transport keys, and
:attr:`NoiseHandshake.trailing_data` any bytes received after the last handshake message.
Every failure raises :class:`~p2pstack.errors.HandshakeError` (the cause chained) and is sticky.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any, Final, final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import x25519
from noise.connection import Keypair, NoiseConnection
from noise.exceptions import (
    NoiseHandshakeError,
    NoiseInvalidMessage,
    NoiseMaxNonceError,
    NoiseValueError,
)

from p2pstack.errors import (
    DecodeError,
    HandshakeError,
    InvalidKeyError,
    PeerIdMismatch,
    SignatureError,
)
from p2pstack.identity.identity import Identity
from p2pstack.identity.keys import PublicKey
from p2pstack.identity.peer_id import PeerId
from p2pstack.role import Role
from p2pstack.security.noise.framing import MAX_MESSAGE_LEN, encode_frame, split_frame
from p2pstack.security.noise.payload import SIGNATURE_PREFIX, decode_payload, encode_payload

_log = logging.getLogger("p2pstack.noise")

PROTOCOL_NAME: Final = b"Noise_XX_25519_ChaChaPoly_SHA256"
DH_LEN: Final = 32
_NOISE_FAILURES: Final = (
    NoiseHandshakeError,
    NoiseInvalidMessage,
    NoiseMaxNonceError,
    NoiseValueError,
    InvalidTag,
    ValueError,
)


class _State(enum.Enum):
    AWAIT_MSG1 = enum.auto()
    AWAIT_MSG2 = enum.auto()
    AWAIT_MSG3 = enum.auto()
    COMPLETE = enum.auto()
    FAILED = enum.auto()


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """What a completed handshake established."""

    remote_peer: PeerId
    remote_public_key: PublicKey
    remote_static: bytes
    """The peer's 32-byte X25519 static key, as signed in its payload."""
    send_key: bytes
    recv_key: bytes
    handshake_hash: bytes


@final
class StaticKey:
    """An X25519 static key and our payload signing it, made once and reused by handshakes.

    Building it costs a key generation, a signature and a protobuf encoding; reusing it saves
    that on every connection. Forward secrecy rests on the ephemeral keys, which stay fresh.
    """

    __slots__ = ("payload", "private", "public", "signer")

    def __init__(self, identity: Identity) -> None:
        key = x25519.X25519PrivateKey.generate()
        self.private: Final = key.private_bytes_raw()
        self.public: Final = key.public_key().public_bytes_raw()
        self.signer: Final = identity.peer_id
        self.payload: Final = encode_payload(identity, self.public)


def split_keys(conn: Any) -> tuple[bytes, bytes]:
    """The ``(send, receive)`` ChaCha20-Poly1305 keys of a finished ``NoiseConnection``."""
    proto = conn.noise_protocol
    return bytes(proto.cipher_state_encrypt.k), bytes(proto.cipher_state_decrypt.k)


@final
class NoiseHandshake:
    """One side of a libp2p Noise XX handshake, without I/O.

    Args:
        identity: our libp2p identity, which signs our static key.
        role: ``Role.INITIATOR`` on the dialing side, ``Role.RESPONDER`` on the accepting one.
        expected_peer: initiator only; the handshake fails with PeerIdMismatch if the
            responder authenticates as another peer.
        static: our static key and signed payload to use (made for ``identity``); a fresh
            one when omitted.
    """

    __slots__ = ("_buffer", "_conn", "_expected", "_out", "_result", "_state", "_static")

    def __init__(
        self,
        identity: Identity,
        *,
        role: Role,
        expected_peer: PeerId | None = None,
        static: StaticKey | None = None,
    ) -> None:
        if static is None:
            static = StaticKey(identity)
        elif static.signer != identity.peer_id:
            raise ValueError("the static key was signed by another identity")
        self._static = static
        self._expected = expected_peer
        self._buffer = bytearray()
        self._out = bytearray()
        self._result: HandshakeResult | None = None
        conn = NoiseConnection.from_name(PROTOCOL_NAME)
        if role is Role.INITIATOR:
            conn.set_as_initiator()
        else:
            conn.set_as_responder()
        conn.set_keypair_from_private_bytes(Keypair.STATIC, static.private)
        conn.start_handshake()
        self._conn = conn
        self._state = _State.AWAIT_MSG1
        if role is Role.INITIATOR:
            self._write(b"")  # msg1: e, with an empty payload
            self._state = _State.AWAIT_MSG2

    @property
    def complete(self) -> bool:
        """True once the handshake succeeded (after which only data_to_send matters)."""
        return self._state is _State.COMPLETE

    @property
    def result(self) -> HandshakeResult:
        """The authenticated outcome. Raises RuntimeError before completion."""
        if self._result is None:
            raise RuntimeError("the Noise handshake is not complete")
        return self._result

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the final handshake message: the start of transport frames."""
        return bytes(self._buffer) if self.complete else b""

    def data_to_send(self) -> bytes:
        """Framed handshake messages to write to the peer (empty when there are none)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Process received bytes; complete messages advance the handshake.

        Raises:
            HandshakeError: a message is malformed or fails authentication, the peer's
                payload is invalid, or (PeerIdMismatch) the peer is not the expected one.
        """
        if self._state is _State.FAILED:
            raise HandshakeError("the Noise handshake already failed")
        self._buffer += data
        try:
            while self._state is not _State.COMPLETE:
                frame = split_frame(self._buffer)
                if frame is None:
                    return
                message, end = frame
                del self._buffer[:end]
                self._on_message(message)
        except HandshakeError:
            self._state = _State.FAILED
            raise
        except _NOISE_FAILURES as exc:
            self._state = _State.FAILED
            raise HandshakeError(f"invalid Noise handshake message: {exc!r}") from exc

    def _on_message(self, message: bytes) -> None:
        state = self._state
        if state is _State.AWAIT_MSG1:
            self._read(message, min_len=DH_LEN)  # msg1 payload is untrusted; ignore it
            self._write(self._static.payload)
            self._state = _State.AWAIT_MSG3
        elif state is _State.AWAIT_MSG2:
            hs = self._conn.noise_protocol.handshake_state
            payload = self._read(message, min_len=DH_LEN + DH_LEN + 16 + 16)
            remote_static = bytes(hs.rs.public_bytes)
            key, peer = _verify(payload, remote_static, self._expected)
            self._write(self._static.payload)
            self._finish(key, peer, remote_static)
        elif state is _State.AWAIT_MSG3:
            hs = self._conn.noise_protocol.handshake_state
            payload = self._read(message, min_len=DH_LEN + 16 + 16)
            remote_static = bytes(hs.rs.public_bytes)
            key, peer = _verify(payload, remote_static, None)
            self._finish(key, peer, remote_static)
        else:  # pragma: no cover - receive_data never dispatches in other states
            raise HandshakeError(f"unexpected handshake message in state {state.name}")

    def _read(self, message: bytes, *, min_len: int) -> bytes:
        if len(message) < min_len:
            raise HandshakeError(f"Noise handshake message of {len(message)} bytes is too short")
        return bytes(self._conn.read_message(message))

    def _write(self, payload: bytes) -> None:
        message = bytes(self._conn.write_message(payload))
        if len(message) > MAX_MESSAGE_LEN:  # only an absurdly large identity key could do this
            raise HandshakeError(f"our Noise handshake message of {len(message)} bytes is too big")
        self._out += encode_frame(message)

    def _finish(self, key: PublicKey, peer: PeerId, remote_static: bytes) -> None:
        send_key, recv_key = split_keys(self._conn)
        self._result = HandshakeResult(
            remote_peer=peer,
            remote_public_key=key,
            remote_static=remote_static,
            send_key=send_key,
            recv_key=recv_key,
            handshake_hash=bytes(self._conn.get_handshake_hash()),
        )
        self._state = _State.COMPLETE
        _log.debug("Noise handshake complete with %s", peer)


#: Payloads whose signature checked out, by (payload, remote static key): peers that reuse
#: their static key (rust-libp2p, p2pstack) send the same bytes on every connection, and the
#: check is a pure function of them. Bounded; the oldest entry goes first.
_VERIFIED: Final[dict[tuple[bytes, bytes], tuple[PublicKey, PeerId]]] = {}
VERIFIED_CACHE_SIZE: Final = 1024


def _verify(
    payload: bytes, remote_static: bytes, expected: PeerId | None
) -> tuple[PublicKey, PeerId]:
    """Check the peer's signed payload against the static key it used in the handshake."""
    cached = _VERIFIED.get((payload, remote_static))
    if cached is None:
        cached = _check_signature(payload, remote_static)
        if len(_VERIFIED) >= VERIFIED_CACHE_SIZE:
            del _VERIFIED[next(iter(_VERIFIED))]
        _VERIFIED[payload, remote_static] = cached
    key, peer = cached
    if expected is not None and peer != expected:
        raise PeerIdMismatch(expected, peer)
    return key, peer


def _check_signature(payload: bytes, remote_static: bytes) -> tuple[PublicKey, PeerId]:
    try:
        fields = decode_payload(payload)
        key = PublicKey.from_protobuf(fields.identity_key)
    except (DecodeError, InvalidKeyError) as exc:
        raise HandshakeError(f"invalid Noise handshake payload: {exc}") from exc
    if not key.verify(SIGNATURE_PREFIX + remote_static, fields.identity_sig):
        cause = SignatureError("identity_sig does not sign the Noise static key")
        raise HandshakeError("the peer's Noise static key signature is invalid") from cause
    return key, key.to_peer_id()
