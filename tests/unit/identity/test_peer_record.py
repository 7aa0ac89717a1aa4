"""Signed peer records (RFC 0003 in an RFC 0002 envelope): bytes, verification, limits."""

from __future__ import annotations

import pytest

from p2pstack.errors import (
    EnvelopeDecodeError,
    InvalidConfigError,
    PeerRecordError,
    ProtocolError,
    SignedEnvelopeError,
)
from p2pstack.identity import Identity
from p2pstack.identity.envelope import MAX_ENVELOPE_SIZE, open_envelope, seal, signed_bytes
from p2pstack.identity.pb import envelope_pb2, peer_record_pb2
from p2pstack.identity.record import (
    MAX_RECORD_ADDR_SIZE,
    MAX_RECORD_ADDRS,
    MAX_SEQ,
    PEER_RECORD_DOMAIN,
    PEER_RECORD_PAYLOAD_TYPE,
    PeerRecord,
    SeqCounter,
    open_peer_record,
    seal_peer_record,
)
from p2pstack.multiaddr import Multiaddr

ALICE = Identity.from_ed25519_seed(bytes(range(32)))
MALLORY = Identity.from_ed25519_seed(bytes(32))
ADDRS = [Multiaddr("/ip4/192.0.2.1/tcp/4001"), Multiaddr("/ip6/::1/tcp/4001/ws")]


def _signed(identity: Identity, payload: bytes) -> bytes:
    """``payload`` sealed as a peer record by ``identity`` (whatever the payload says)."""
    return seal(identity, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, payload).to_bytes()


def test_payload_bytes_are_go_s() -> None:
    # PeerRecord{peer_id=1, seq=2, addresses=3{multiaddr=1}}, fields in order.
    a = ADDRS[0].to_bytes()
    peer = ALICE.peer_id.multihash
    expected = (
        bytes([0x0A, len(peer)]) + peer + b"\x10\x2a" + bytes([0x1A, len(a) + 2, 0x0A, len(a)]) + a
    )
    assert PeerRecord(ALICE.peer_id, 42, (ADDRS[0],)).to_bytes() == expected


def test_signed_bytes_use_the_peer_record_domain_and_type() -> None:
    assert signed_bytes(PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, b"xy") == (
        b"\x12libp2p-peer-record\x02\x03\x01\x02xy"
    )


def test_seal_and_open_round_trip() -> None:
    sealed = seal_peer_record(ALICE, [ADDRS[0].with_peer_id(ALICE.peer_id), *ADDRS], 7)
    assert sealed.addrs == tuple(ADDRS)  # /p2p stripped, duplicates dropped
    message = envelope_pb2.Envelope()
    message.ParseFromString(sealed.data)
    assert message.payload_type == b"\x03\x01"
    opened = open_peer_record(sealed.data, expected_peer=ALICE.peer_id)
    assert opened.record == sealed.record
    assert (opened.peer_id, opened.seq) == (ALICE.peer_id, 7)
    assert opened.envelope.signer == ALICE.peer_id
    assert opened.data == sealed.data


def test_seal_keeps_at_most_the_limit_and_checks_seq() -> None:
    many = [Multiaddr(f"/ip4/10.0.{i // 256}.{i % 256}/tcp/1") for i in range(100)]
    assert len(seal_peer_record(ALICE, many, 1).addrs) == MAX_RECORD_ADDRS
    with pytest.raises(InvalidConfigError):
        seal_peer_record(ALICE, ADDRS, -1)
    with pytest.raises(InvalidConfigError):
        seal_peer_record(ALICE, ADDRS, MAX_SEQ + 1)


def test_tampered_signature_is_refused() -> None:
    message = envelope_pb2.Envelope()
    message.ParseFromString(seal_peer_record(ALICE, ADDRS, 1).data)
    message.signature = bytes([message.signature[0] ^ 1]) + message.signature[1:]
    with pytest.raises(SignedEnvelopeError, match="signature"):
        open_peer_record(message.SerializeToString())


def test_tampered_payload_is_refused() -> None:
    message = envelope_pb2.Envelope()
    message.ParseFromString(seal_peer_record(ALICE, ADDRS, 1).data)
    message.payload = PeerRecord(ALICE.peer_id, 1, (Multiaddr("/ip4/6.6.6.6/tcp/1"),)).to_bytes()
    with pytest.raises(SignedEnvelopeError):
        open_peer_record(message.SerializeToString())


def test_record_signed_by_another_key_is_refused() -> None:
    forged = _signed(MALLORY, PeerRecord(ALICE.peer_id, 1, tuple(ADDRS)).to_bytes())
    with pytest.raises(PeerRecordError, match="signed by another key"):
        open_peer_record(forged)
    with pytest.raises(PeerRecordError, match="signed by another key"):
        open_peer_record(forged, expected_peer=ALICE.peer_id)


def test_record_of_another_peer_than_the_connection_is_refused() -> None:
    # Mallory relays Alice's genuine record over her own connection.
    genuine = seal_peer_record(ALICE, ADDRS, 1).data
    with pytest.raises(PeerRecordError, match="came from"):
        open_peer_record(genuine, expected_peer=MALLORY.peer_id)


def test_other_domains_and_types_do_not_verify() -> None:
    payload = PeerRecord(ALICE.peer_id, 1, tuple(ADDRS)).to_bytes()
    wrong_domain = seal(ALICE, "libp2p-relay-rsvp", PEER_RECORD_PAYLOAD_TYPE, payload).to_bytes()
    with pytest.raises(SignedEnvelopeError, match="signature"):
        open_peer_record(wrong_domain)
    wrong_type = seal(ALICE, PEER_RECORD_DOMAIN, b"\x81\x06", payload).to_bytes()
    with pytest.raises(SignedEnvelopeError, match="payload type"):
        open_peer_record(wrong_type)


def test_too_many_addresses_are_refused() -> None:
    record = peer_record_pb2.PeerRecord(peer_id=ALICE.peer_id.multihash, seq=1)
    for i in range(3000):
        record.addresses.add(multiaddr=Multiaddr(f"/ip4/10.{i // 256}.{i % 256}.1").to_bytes())
    with pytest.raises(EnvelopeDecodeError, match="3000 addresses"):
        PeerRecord.from_bytes(record.SerializeToString())
    # Sealed, the same record is over the envelope size limit: refused before parsing.
    with pytest.raises(EnvelopeDecodeError, match="exceeds"):
        open_peer_record(_signed(ALICE, record.SerializeToString()))
    # 65 addresses fit in an envelope and are refused by count after the signature check.
    del record.addresses[MAX_RECORD_ADDRS + 1 :]
    with pytest.raises(EnvelopeDecodeError, match="65 addresses"):
        open_peer_record(_signed(ALICE, record.SerializeToString()))


def test_long_address_is_refused_and_unknown_ones_skipped() -> None:
    record = peer_record_pb2.PeerRecord(peer_id=ALICE.peer_id.multihash, seq=1)
    record.addresses.add(multiaddr=ADDRS[0].to_bytes())
    record.addresses.add(multiaddr=b"\xff\xff\xff\x0f garbage")
    parsed = PeerRecord.from_bytes(record.SerializeToString())
    assert parsed.addrs == (ADDRS[0],)
    record.addresses.add(multiaddr=b"\x04" + bytes(MAX_RECORD_ADDR_SIZE))
    with pytest.raises(EnvelopeDecodeError, match="address of"):
        PeerRecord.from_bytes(record.SerializeToString())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        bytes(MAX_ENVELOPE_SIZE + 1),
        envelope_pb2.Envelope(public_key=b"\x08\x09").SerializeToString(),
    ],
    ids=["empty", "garbage", "oversized", "bad-key"],
)
def test_malformed_envelopes_are_typed_refusals(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        open_peer_record(data)
    with pytest.raises(ProtocolError):
        open_envelope(data, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE)


def test_malformed_payload_and_peer_id_are_decode_errors() -> None:
    with pytest.raises(EnvelopeDecodeError, match="peer record"):
        open_peer_record(_signed(ALICE, b"\xff\xff"))
    with pytest.raises(EnvelopeDecodeError, match="peer id"):
        open_peer_record(
            _signed(ALICE, peer_record_pb2.PeerRecord(peer_id=b"xx").SerializeToString())
        )


def test_seq_counter_is_monotonic_and_follows_the_clock() -> None:
    seq = SeqCounter()
    assert seq.next(1_000) == 1_000
    assert seq.next(1_000) == 1_001  # same nanosecond
    assert seq.next(500) == 1_002  # clock stepped back
    assert seq.next(5_000) == 5_000
