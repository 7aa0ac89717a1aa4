"""Hop/stop message encoding: byte-exact vectors, round trips, and hostile input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, strategies as st

from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.relay.errors import RelayMessageError
from p2pstack.protocols.relay.messages import (
    HopMessage,
    HopType,
    Limit,
    Peer,
    Reservation,
    StopMessage,
    StopType,
    decode_hop,
    decode_stop,
    encode_hop,
    encode_stop,
)
from p2pstack.protocols.relay.status import Status
from p2pstack.varint import length_prefixed

PEER = Identity.from_ed25519_seed(bytes(32)).peer_id


def test_reserve_request_bytes() -> None:
    # wire.md §8: the RESERVE request on the wire is 02 08 00.
    assert length_prefixed(encode_hop(HopMessage(HopType.RESERVE))) == bytes.fromhex("020800")


def test_connect_request_bytes() -> None:
    pid = PEER.multihash
    expected = bytes([0x08, 0x01, 0x12, len(pid) + 2, 0x0A, len(pid)]) + pid
    assert encode_hop(HopMessage(HopType.CONNECT, peer=Peer(PEER))) == expected


def test_status_with_limit_bytes() -> None:
    message = HopMessage(HopType.STATUS, limit=Limit(duration=120, data=1 << 17), status=Status.OK)
    # type=2, limit{duration=120, data=131072}, status=100, in field order.
    assert encode_hop(message) == bytes.fromhex("0802" + "2206" + "0878" + "10808008" + "2864")


def test_stop_connect_bytes_and_zero_enum() -> None:
    data = encode_stop(StopMessage(StopType.CONNECT, peer=Peer(PEER)))
    assert data[:2] == b"\x08\x00"  # CONNECT = 0 is still emitted
    assert decode_stop(data) == StopMessage(StopType.CONNECT, peer=Peer(PEER))


def test_round_trip_reservation() -> None:
    addr = Multiaddr(f"/ip4/192.0.2.1/tcp/4001/p2p/{PEER}")
    message = HopMessage(
        HopType.STATUS,
        reservation=Reservation(expire=1_700_000_000, addrs=(addr,), voucher=b"v"),
        limit=Limit(duration=0, data=5),
        status=Status.OK,
    )
    assert decode_hop(encode_hop(message)) == message


def test_unknown_status_is_kept_as_number() -> None:
    data = encode_hop(HopMessage(HopType.STATUS, status=999))
    assert decode_hop(data).status == 999


def test_bad_addresses_are_skipped() -> None:
    data = bytes.fromhex("0802") + bytes([0x1A, 0x04, 0x12, 0x02, 0xFF, 0xFF])
    rsvp = decode_hop(data).reservation
    assert rsvp is not None
    assert rsvp.addrs == ()


@pytest.mark.parametrize(
    "data",
    [
        b"",  # no type
        bytes.fromhex("0807"),  # unknown type
        bytes.fromhex("08011200"),  # peer without id
        bytes.fromhex("0801120302"),  # truncated
        bytes.fromhex("080112030a0100"),  # invalid peer id
        bytes(5000),  # too large
    ],
)
def test_malformed_hop(data: bytes) -> None:
    with pytest.raises(RelayMessageError):
        decode_hop(data)


def test_limit_range_checked() -> None:
    with pytest.raises(ValueError, match="uint32"):
        Limit(duration=1 << 32)


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_typed_error(data: bytes) -> None:
    for decode in (decode_hop, decode_stop):
        with contextlib.suppress(RelayMessageError):
            decode(data)


@given(
    st.sampled_from(list(HopType)),
    st.one_of(st.none(), st.integers(0, (1 << 32) - 1)),
    st.integers(0, (1 << 64) - 1),
    st.one_of(st.none(), st.sampled_from(list(Status))),
)
def test_hop_round_trip(kind: HopType, duration: int | None, data: int, status: int | None) -> None:
    limit = None if duration is None else Limit(duration=duration, data=data)
    message = HopMessage(kind, peer=Peer(PEER), limit=limit, status=status)
    assert decode_hop(encode_hop(message)) == message
