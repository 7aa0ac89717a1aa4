"""identify's record handling and the peer store's certified addresses (no I/O, fake clock)."""

from __future__ import annotations

import logging

import pytest

from p2pstack.errors import EnvelopeDecodeError, PeerRecordError
from p2pstack.host.dialer import certified_first
from p2pstack.host.peerstore import PeerStore, parse_records
from p2pstack.identity import Identity
from p2pstack.identity.pb import envelope_pb2
from p2pstack.identity.record import seal_peer_record
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify.codec import MAX_SEND_SIZE, decode_identify, encode_identify
from p2pstack.protocols.identify.records import PeerRecords

ALICE = Identity.from_ed25519_seed(bytes(range(32)))
MALLORY = Identity.from_ed25519_seed(bytes(32))
HOME = Multiaddr("/ip4/192.0.2.1/tcp/4001")
WORK = Multiaddr("/ip4/198.51.100.7/tcp/4001")
LAN = Multiaddr("/ip4/10.0.0.5/tcp/4001")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> PeerStore:
    return PeerStore(clock)


def test_our_record_is_sealed_again_only_when_addresses_change() -> None:
    records = PeerRecords()
    first = records.ours(ALICE, [HOME], now_ns=10)
    assert records.ours(ALICE, [HOME], now_ns=20) is first
    second = records.ours(ALICE, [HOME, WORK], now_ns=15)  # clock went back: seq still grows
    assert second.seq > first.seq
    assert second.addrs == (HOME, WORK)


def test_valid_record_is_certified_apart_from_listen_addrs(store: PeerStore) -> None:
    records = PeerRecords()
    store.add_addrs(ALICE.peer_id, [LAN], ttl=60)
    data = seal_peer_record(ALICE, [HOME], 5).data
    assert records.consume(store, ALICE.peer_id, data) == "certified"
    assert store.certified_addrs(ALICE.peer_id) == [HOME]
    assert set(store.addrs(ALICE.peer_id)) == {HOME, LAN}
    record = store.signed_record(ALICE.peer_id)
    assert record is not None
    assert record.data == data
    assert records.counts["certified"] == 1


def test_newer_seq_replaces_older_and_replay_is_ignored(store: PeerStore) -> None:
    records = PeerRecords()
    old = seal_peer_record(ALICE, [HOME], 5).data
    new = seal_peer_record(ALICE, [WORK], 6).data
    assert records.consume(store, ALICE.peer_id, old) == "certified"
    assert records.consume(store, ALICE.peer_id, new) == "certified"
    assert store.certified_addrs(ALICE.peer_id) == [WORK]
    assert records.consume(store, ALICE.peer_id, old) == "stale"  # replayed older seq
    other_same_seq = seal_peer_record(ALICE, [LAN], 6).data
    assert records.consume(store, ALICE.peer_id, other_same_seq) == "stale"
    assert records.consume(store, ALICE.peer_id, new) == "certified"  # the same again: refresh
    assert store.certified_addrs(ALICE.peer_id) == [WORK]
    assert records.counts == {"certified": 3, "stale": 2}


def test_bad_records_are_rejected_logged_and_counted(
    store: PeerStore, caplog: pytest.LogCaptureFixture
) -> None:
    records = PeerRecords()
    message = envelope_pb2.Envelope()
    message.ParseFromString(seal_peer_record(ALICE, [HOME], 5).data)
    message.signature = bytes(len(message.signature))
    with caplog.at_level(logging.INFO, logger="p2pstack.identify"):
        assert records.consume(store, ALICE.peer_id, message.SerializeToString()) == "rejected"
        # Mallory's own valid record, sent over a connection authenticated as Alice.
        foreign = seal_peer_record(MALLORY, [HOME], 5).data
        assert records.consume(store, ALICE.peer_id, foreign) == "rejected"
        assert records.consume(store, ALICE.peer_id, b"\xff" * 10) == "rejected"
    assert records.consume(store, ALICE.peer_id, None) == "absent"
    assert records.counts == {"rejected": 3, "absent": 1}
    assert store.certified_addrs(ALICE.peer_id) == []
    assert store.certified_addrs(MALLORY.peer_id) == []
    assert caplog.text.count("rejected the signed peer record") == 3


def test_certified_addrs_expire_with_the_ttl(store: PeerStore, clock: Clock) -> None:
    record = seal_peer_record(ALICE, [HOME], 5)
    assert store.consume_peer_record(record, ttl=60)
    clock.now += 61
    assert store.certified_addrs(ALICE.peer_id) == []
    assert store.signed_record(ALICE.peer_id) is None
    assert store.addrs(ALICE.peer_id) == []
    # The seq is remembered: an older record is still refused after expiry.
    assert not store.consume_peer_record(seal_peer_record(ALICE, [WORK], 4))


def test_dialer_tries_certified_addresses_first(store: PeerStore) -> None:
    store.add_addrs(ALICE.peer_id, [LAN, WORK])
    store.mark_success(ALICE.peer_id, LAN)
    store.consume_peer_record(seal_peer_record(ALICE, [HOME], 1))
    assert store.addrs(ALICE.peer_id)[0] == LAN  # the peer store's own order
    assert certified_first(store, ALICE.peer_id) == [HOME, LAN, WORK]
    store.mark_failure(ALICE.peer_id, HOME)  # certified addresses take success marks too
    assert store.addrs(ALICE.peer_id)[-1] == HOME


def test_records_export_and_import_verify_again(store: PeerStore, clock: Clock) -> None:
    store.consume_peer_record(seal_peer_record(ALICE, [HOME], 9))
    exported = store.export_records()
    assert list(exported) == [str(ALICE.peer_id)]
    fresh = PeerStore(clock)
    fresh.import_records(exported)
    assert fresh.certified_addrs(ALICE.peer_id) == [HOME]
    assert fresh.export_records() == exported
    # The address book's own export leaves certified-only addresses to the records.
    store.add_addrs(ALICE.peer_id, [LAN], ttl=60)
    assert store.export_addrs(permanent=False) == {str(ALICE.peer_id): [str(LAN)]}
    assert store.export_addrs(permanent=True) == {}
    assert store.export_addrs() == {str(ALICE.peer_id): [str(LAN)]}
    # Filed under another peer, or not hex: refused, nothing stored.
    with pytest.raises(PeerRecordError):
        parse_records({str(MALLORY.peer_id): exported[str(ALICE.peer_id)]})
    with pytest.raises(EnvelopeDecodeError):
        parse_records({str(ALICE.peer_id): "zz"})


def _encode(record: bytes | None) -> bytes:
    return encode_identify(
        public_key=ALICE.public_key.to_protobuf(),
        listen_addrs=[HOME],
        protocols=["/ipfs/id/1.0.0"],
        observed_addr=None,
        agent_version="t",
        protocol_version="ipfs/0.1.0",
        signed_peer_record=record,
    )


def test_identify_message_carries_the_record_within_4096_bytes() -> None:
    record = seal_peer_record(ALICE, [HOME], 3).data
    assert decode_identify([_encode(record)], ALICE.peer_id).signed_peer_record == record
    assert decode_identify([_encode(None)], ALICE.peer_id).signed_peer_record is None
    # A record that cannot fit is dropped rather than sending more than rust reads.
    huge = _encode(bytes(5000))
    assert len(huge) <= MAX_SEND_SIZE
    assert decode_identify([huge], ALICE.peer_id).signed_peer_record is None
