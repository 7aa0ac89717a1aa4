"""Signed envelopes (libp2p RFC 0002) and relay reservation vouchers.

An envelope carries a payload, its type and the signer's public key; the signature covers
``uvarint(len(domain)) || domain || uvarint(len(type)) || type || uvarint(len(payload)) ||
payload``, and the domain travels out of band. A relay voucher is an envelope with domain
``libp2p-relay-rsvp`` and payload type ``03 02`` whose payload is
``Voucher{relay, peer, expiration}`` — the bytes go-libp2p produces and checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from p2pstack.errors import InvalidKeyError, PeerIdError
from p2pstack.identity import Identity, PeerId, PublicKey
from p2pstack.protobuf import parse_message
from p2pstack.protocols.relay.errors import EnvelopeError, RelayMessageError, VoucherError
from p2pstack.protocols.relay.pb import envelope_pb2 as pb
from p2pstack.varint import encode_uvarint

RELAY_RSVP_DOMAIN: Final = "libp2p-relay-rsvp"
VOUCHER_PAYLOAD_TYPE: Final = b"\x03\x02"
"""multicodec 0x0302 as two big-endian bytes (go's ``RecordCodec``), not as a varint."""
MAX_ENVELOPE_SIZE: Final = 4096


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
        """The marshalled ``Envelope`` protobuf (fields 1, 2, 3, 5 in order)."""
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


def open_envelope(data: bytes, domain: str, payload_type: bytes) -> SignedEnvelope:
    """Parse ``data`` and verify its signature under ``domain`` and its ``payload_type``.

    Raises:
        RelayMessageError: the bytes are not an envelope.
        EnvelopeError: wrong payload type, bad key or bad signature.
    """
    if len(data) > MAX_ENVELOPE_SIZE:
        raise RelayMessageError(f"envelope of {len(data)} bytes exceeds {MAX_ENVELOPE_SIZE}")
    message = parse_message(pb.Envelope(), data, what="envelope", error=RelayMessageError)
    try:
        key = PublicKey.from_protobuf(message.public_key)
    except InvalidKeyError as exc:
        raise EnvelopeError(f"envelope public key: {exc}") from exc
    if message.payload_type != payload_type:
        raise EnvelopeError(
            f"envelope payload type {message.payload_type.hex()} is not {payload_type.hex()}"
        )
    if not key.verify(
        signed_bytes(domain, message.payload_type, message.payload), message.signature
    ):
        raise EnvelopeError("envelope signature does not verify")
    return SignedEnvelope(key, message.payload_type, message.payload, message.signature)


@dataclass(frozen=True, slots=True)
class Voucher:
    """A reservation voucher's payload: ``relay`` reserved for ``peer`` until ``expiration``."""

    relay: PeerId
    peer: PeerId
    expiration: int

    def to_bytes(self) -> bytes:
        """The canonical payload: fields 1, 2, 3 in order, all emitted."""
        return pb.Voucher(
            relay=self.relay.multihash, peer=self.peer.multihash, expiration=self.expiration
        ).SerializeToString()

    @classmethod
    def from_bytes(cls, data: bytes) -> Voucher:
        """Parse a voucher payload. Raises RelayMessageError."""
        message = parse_message(pb.Voucher(), data, what="voucher", error=RelayMessageError)
        if not (message.HasField("relay") and message.HasField("peer")):
            raise RelayMessageError("voucher without relay or peer")
        try:
            return cls(
                PeerId.from_bytes(message.relay),
                PeerId.from_bytes(message.peer),
                message.expiration,
            )
        except PeerIdError as exc:
            raise RelayMessageError(f"voucher peer id: {exc}") from exc


def make_voucher(identity: Identity, peer: PeerId, expiration: int) -> bytes:
    """A marshalled voucher envelope signed by the relay ``identity`` for ``peer``."""
    payload = Voucher(identity.peer_id, peer, expiration).to_bytes()
    return seal(identity, RELAY_RSVP_DOMAIN, VOUCHER_PAYLOAD_TYPE, payload).to_bytes()


def verify_voucher(data: bytes, *, relay: PeerId, peer: PeerId) -> Voucher:
    """Check a voucher as go's client does: valid envelope, signer == relay, peer == us.

    Raises:
        RelayMessageError: malformed envelope or payload.
        VoucherError: bad signature or type, or the voucher names other peers.
    """
    try:
        envelope = open_envelope(data, RELAY_RSVP_DOMAIN, VOUCHER_PAYLOAD_TYPE)
    except EnvelopeError as exc:
        raise VoucherError(str(exc)) from exc
    voucher = Voucher.from_bytes(envelope.payload)
    if envelope.signer != relay or voucher.relay != relay:
        raise VoucherError(f"voucher signed by {envelope.signer}, not by the relay {relay}")
    if voucher.peer != peer:
        raise VoucherError(f"voucher is for {voucher.peer}, not for {peer}")
    return voucher
