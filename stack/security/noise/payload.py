"""The libp2p ``NoiseHandshakePayload`` (see ``payload.proto``): building, decoding, verifying.

The payload proves that the Noise static key belongs to a libp2p identity: ``identity_sig`` signs
``b"noise-libp2p-static-key:" || static_x25519_public`` with the key in ``identity_key``. We send
no ``extensions`` (muxers are negotiated with multistream afterwards); received ones are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from p2pstack.errors import DecodeError
from p2pstack.identity.identity import Identity
from p2pstack.protobuf import parse_message
from p2pstack.security.noise import payload_pb2

SIGNATURE_PREFIX: Final = b"noise-libp2p-static-key:"


@dataclass(frozen=True, slots=True)
class HandshakePayload:
    """The fields of a received payload we use."""

    identity_key: bytes
    """The serialized libp2p ``PublicKey`` protobuf."""
    identity_sig: bytes


def encode_payload(identity: Identity, static_public: bytes) -> bytes:
    """Build our signed payload for the 32-byte X25519 ``static_public`` key."""
    msg = payload_pb2.NoiseHandshakePayload(
        identity_key=identity.public_key.to_protobuf(),
        identity_sig=identity.sign(SIGNATURE_PREFIX + static_public),
    )
    return msg.SerializeToString(deterministic=True)


def decode_payload(data: bytes) -> HandshakePayload:
    """Parse a received payload.

    Raises:
        DecodeError: malformed protobuf, or ``identity_key``/``identity_sig`` missing.
    """
    msg = parse_message(payload_pb2.NoiseHandshakePayload(), data, what="Noise handshake payload")
    if not (msg.HasField("identity_key") and msg.HasField("identity_sig")):
        raise DecodeError("Noise handshake payload lacks identity_key or identity_sig")
    return HandshakePayload(identity_key=msg.identity_key, identity_sig=msg.identity_sig)
