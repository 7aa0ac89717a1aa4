"""Signed envelopes (libp2p RFC 0002): a payload, its type and the signer's public key.

The signature covers ``uvarint(len(domain)) || domain || uvarint(len(type)) || type ||
uvarint(len(payload)) || payload``; the domain travels out of band, so an envelope signed
for one purpose never verifies for another. Signed peer records
(:mod:`p2pstack.identity.record`) and relay reservation vouchers are envelopes. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from p2pstack.errors import EnvelopeDecodeError, InvalidKeyError, SignedEnvelopeError
from p2pstack.identity.identity import Identity
from p2pstack.identity.keys import PublicKey
from p2pstack.identity.pb import envelope_pb2 as pb
from p2pstack.identity.peer_id import PeerId
from p2pstack.protobuf import parse_message
from p2pstack.varint import encode_uvarint

MAX_ENVELOPE_SIZE: Final = 4096
"""The largest marshalled envelope :func:`open_envelope` parses (an identify message, which
carries a peer record, is at most 4096 bytes for rust-libp2p anyway)."""


def signed_bytes(domain: str, payload_type: bytes, payload: bytes) -> bytes:
    """The bytes an envelope's signature covers."""
    d = domain.encode()
    return b"".join(
        (
            encode_uvarint(len(d)),
            d,
            encode_uvarint(len(payload_type)),
            payload_type,
            encode_uvarint(len(payload)),
            payload,
        )
    )


@dataclass(frozen=True, slots=True)
class SignedEnvelope:
    """A verified (or freshly sealed) envelope."""

    public_key: PublicKey
    payload_type: bytes
    payload: bytes
    signature: bytes

    @property
    def signer(self) -> PeerId:
        """The peer id of the signing key."""
        return self.public_key.to_peer_id()

    def to_bytes(self) -> bytes:
        """The marshalled ``Envelope`` protobuf (fields 1, 2, 3, 5 in order, as go writes)."""
        return pb.Envelope(
            public_key=self.public_key.to_protobuf(),
            payload_type=self.payload_type,
            payload=self.payload,
            signature=self.signature,
        ).SerializeToString()


def seal(identity: Identity, domain: str, payload_type: bytes, payload: bytes) -> SignedEnvelope:
    """Sign ``payload`` under ``domain`` with ``identity``."""
    signature = identity.sign(signed_bytes(domain, payload_type, payload))
    return SignedEnvelope(identity.public_key, payload_type, payload, signature)


def open_envelope(
    data: bytes, domain: str, payload_type: bytes, *, max_size: int = MAX_ENVELOPE_SIZE
) -> SignedEnvelope:
    """Parse ``data`` and verify its signature under ``domain`` and its ``payload_type``.

    Work is bounded: more than ``max_size`` bytes are refused before parsing, and one
    signature is checked.

    Raises:
        EnvelopeDecodeError: the bytes are not an envelope, or too many.
        SignedEnvelopeError: wrong payload type, bad key or bad signature.
    """
    if len(data) > max_size:
        raise EnvelopeDecodeError(f"envelope of {len(data)} bytes exceeds {max_size}")
    message = parse_message(pb.Envelope(), data, what="envelope", error=EnvelopeDecodeError)
    try:
        key = PublicKey.from_protobuf(message.public_key)
    except InvalidKeyError as exc:
        raise SignedEnvelopeError(f"envelope public key: {exc}") from exc
    if message.payload_type != payload_type:
        raise SignedEnvelopeError(
            f"envelope payload type {message.payload_type.hex()} is not {payload_type.hex()}"
        )
    if not key.verify(
        signed_bytes(domain, message.payload_type, message.payload), message.signature
    ):
        raise SignedEnvelopeError("envelope signature does not verify")
    return SignedEnvelope(key, message.payload_type, message.payload, message.signature)
