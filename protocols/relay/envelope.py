"""Relay reservation vouchers: signed envelopes (:mod:`p2pstack.identity.envelope`) with
domain ``libp2p-relay-rsvp`` and payload type ``03 02`` whose payload is
``Voucher{relay, peer, expiration}`` — the bytes go-libp2p produces and checks.

:func:`open_envelope` here is the foundation's with the relay's errors
(:class:`RelayMessageError`, :class:`EnvelopeError`); ``seal``, ``signed_bytes`` and
``SignedEnvelope`` are re-exported from the foundation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from p2pstack.errors import EnvelopeDecodeError, PeerIdError, SignedEnvelopeError
from p2pstack.identity import Identity, PeerId
from p2pstack.identity.envelope import (
    MAX_ENVELOPE_SIZE as MAX_ENVELOPE_SIZE,
    SignedEnvelope as SignedEnvelope,
    open_envelope as _open,
    seal as seal,
    signed_bytes as signed_bytes,
)
from p2pstack.protobuf import parse_message
from p2pstack.protocols.relay.errors import EnvelopeError, RelayMessageError, VoucherError
from p2pstack.protocols.relay.pb import voucher_pb2 as pb

RELAY_RSVP_DOMAIN: Final = "libp2p-relay-rsvp"
VOUCHER_PAYLOAD_TYPE: Final = b"\x03\x02"
"""multicodec 0x0302 as two big-endian bytes (go's ``RecordCodec``), not as a varint."""


def open_envelope(data: bytes, domain: str, payload_type: bytes) -> SignedEnvelope:
    """Parse ``data`` and verify its signature under ``domain`` and its ``payload_type``.

    Raises:
        RelayMessageError: the bytes are not an envelope.
        EnvelopeError: wrong payload type, bad key or bad signature.
    """
    try:
        return _open(data, domain, payload_type)
    except EnvelopeDecodeError as exc:
        raise RelayMessageError(str(exc)) from exc
    except SignedEnvelopeError as exc:
        raise EnvelopeError(str(exc)) from exc


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
