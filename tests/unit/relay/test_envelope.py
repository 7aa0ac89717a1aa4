"""Signed envelopes and reservation vouchers, byte-exact with go-libp2p's rules."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, strategies as st

from p2pstack.identity import Identity
from p2pstack.identity.pb import envelope_pb2
from p2pstack.protocols.relay.envelope import (
    RELAY_RSVP_DOMAIN,
    VOUCHER_PAYLOAD_TYPE,
    Voucher,
    make_voucher,
    open_envelope,
    seal,
    signed_bytes,
    verify_voucher,
)
from p2pstack.protocols.relay.errors import EnvelopeError, RelayMessageError, VoucherError

RELAY = Identity.from_ed25519_seed(bytes(range(32)))
PEER = Identity.from_ed25519_seed(bytes(32))


def test_signed_bytes_layout() -> None:
    # wire.md §8: 11 "libp2p-relay-rsvp" 02 03 02 uvarint(len(payload)) payload
    payload = b"abc"
    expected = b"\x11libp2p-relay-rsvp" + b"\x02\x03\x02" + b"\x03abc"
    assert signed_bytes(RELAY_RSVP_DOMAIN, VOUCHER_PAYLOAD_TYPE, payload) == expected


def test_voucher_payload_bytes() -> None:
    relay, peer = RELAY.peer_id.multihash, PEER.peer_id.multihash
    expected = (
        bytes([0x0A, len(relay)]) + relay + bytes([0x12, len(peer)]) + peer + bytes([0x18, 0x2A])
    )
    assert Voucher(RELAY.peer_id, PEER.peer_id, 42).to_bytes() == expected


def test_voucher_envelope_is_canonical_and_verifies() -> None:
    data = make_voucher(RELAY, PEER.peer_id, 1_700_000_000)
    message = envelope_pb2.Envelope()
    message.ParseFromString(data)
    payload = Voucher(RELAY.peer_id, PEER.peer_id, 1_700_000_000).to_bytes()
    # Fields 1, 2, 3, 5 in order, exactly what go's MarshalEnvelope writes.
    expected = (
        b"\x0a"
        + bytes([len(RELAY.public_key.to_protobuf())])
        + RELAY.public_key.to_protobuf()
        + b"\x12\x02\x03\x02"
        + bytes([0x1A, len(payload)])
        + payload
        + bytes([0x2A, len(message.signature)])
        + message.signature
    )
    assert data == expected
    # Ed25519 signatures are deterministic: the whole voucher is reproducible.
    assert make_voucher(RELAY, PEER.peer_id, 1_700_000_000) == data
    voucher = verify_voucher(data, relay=RELAY.peer_id, peer=PEER.peer_id)
    assert voucher == Voucher(RELAY.peer_id, PEER.peer_id, 1_700_000_000)


def test_voucher_for_someone_else_is_refused() -> None:
    data = make_voucher(RELAY, PEER.peer_id, 1)
    with pytest.raises(VoucherError, match="for"):
        verify_voucher(data, relay=RELAY.peer_id, peer=RELAY.peer_id)
    with pytest.raises(VoucherError, match="signed by"):
        verify_voucher(data, relay=PEER.peer_id, peer=PEER.peer_id)


def test_tampered_envelope_fails() -> None:
    envelope = seal(RELAY, RELAY_RSVP_DOMAIN, VOUCHER_PAYLOAD_TYPE, b"payload")
    message = envelope_pb2.Envelope()
    message.ParseFromString(envelope.to_bytes())
    message.payload = b"PAYLOAD"
    with pytest.raises(EnvelopeError, match="signature"):
        open_envelope(message.SerializeToString(), RELAY_RSVP_DOMAIN, VOUCHER_PAYLOAD_TYPE)
    with pytest.raises(EnvelopeError, match="signature"):
        open_envelope(envelope.to_bytes(), "libp2p-peer-record", VOUCHER_PAYLOAD_TYPE)
    with pytest.raises(EnvelopeError, match="payload type"):
        open_envelope(envelope.to_bytes(), RELAY_RSVP_DOMAIN, b"\x03\x01")


@given(st.binary(max_size=200))
def test_any_bytes_open_or_raise_typed_error(data: bytes) -> None:
    with contextlib.suppress(RelayMessageError, EnvelopeError):
        verify_voucher(data, relay=RELAY.peer_id, peer=PEER.peer_id)
