"""The DCUtR codec, address rules and configuration (no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from p2pstack.errors import DecodeError, InvalidConfigError
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat.dcutr import DCUtRConfig, DCUtRMessageError, MessageType
from p2pstack.protocols.nat.dcutr.addrs import direct, observed, punchable, select
from p2pstack.protocols.nat.dcutr.messages import (
    MAX_MESSAGE_SIZE,
    SYNC,
    HolePunch,
    connect,
    decode,
    encode,
)
from p2pstack.protocols.nat.dcutr.service import round_role
from p2pstack.role import Role

PUBLIC = Multiaddr("/ip4/5.5.5.1/tcp/4001")
PUBLIC6 = Multiaddr("/ip6/2001:4860::1/tcp/4001")
RELAY = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"


def test_wire_bytes_match_the_spec() -> None:
    # type=1 varint 100 (0x64) / 300 (0xac 0x02); ObsAddrs=2 length-delimited
    assert encode(SYNC) == b"\x08\xac\x02"
    raw = PUBLIC.to_bytes()
    assert encode(connect([PUBLIC])) == b"\x08\x64\x12" + bytes([len(raw)]) + raw


def test_round_trip() -> None:
    message = connect([PUBLIC, PUBLIC6])
    assert decode(encode(message)) == message
    assert decode(encode(SYNC)) == HolePunch(MessageType.SYNC)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "without a known type"),
        (b"\x08\x01", "without a known type"),  # type 1: unknown to proto2, kept aside
        (b"\x12\x02ab", "without a known type"),
        (b"\x08", "malformed"),
        (b"\x12\x05ab", "malformed"),
        (bytes(MAX_MESSAGE_SIZE + 1), "limit"),
    ],
)
def test_malformed_messages_raise_the_typed_error(data: bytes, why: str) -> None:
    with pytest.raises(DCUtRMessageError, match=why):
        decode(data)


def test_address_limits_bound_the_work() -> None:
    many = [Multiaddr(f"/ip4/5.5.{i // 250}.{i % 250}/tcp/4001") for i in range(300)]
    garbage = b"\x08\x64" + b"".join(b"\x12\x03\xff\xff\xff" for _ in range(10))
    too_long = b"\x08\x64\x12\x50" + bytes(80)
    message = decode(encode(connect(many)), max_addrs=16)
    assert len(encode(connect(many))) <= MAX_MESSAGE_SIZE
    assert message.addrs == tuple(many[:16])
    assert message.dropped == 300 - 16
    assert decode(garbage).addrs == ()
    assert decode(garbage).dropped == 10
    assert decode(too_long, max_addr_len=64).dropped == 1


def test_duplicate_addresses_are_kept_once() -> None:
    assert decode(encode(connect([PUBLIC, PUBLIC, PUBLIC]))).addrs == (PUBLIC,)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        message = decode(data, max_addrs=4)
    except DecodeError:
        return
    assert len(message.addrs) <= 4


@pytest.mark.parametrize(
    ("addr", "public_only", "any_ip"),
    [
        ("/ip4/5.5.5.1/tcp/4001", True, True),
        ("/ip4/5.5.5.1/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", True, True),
        ("/ip6/2001:4860::1/tcp/4001", True, True),
        ("/ip4/10.1.0.2/tcp/4001", False, True),
        ("/ip4/127.0.0.1/tcp/4001", False, True),
        ("/ip4/0.0.0.0/tcp/4001", False, False),
        ("/ip4/5.5.5.1/tcp/0", False, False),
        ("/ip4/5.5.5.1/udp/4001/quic-v1", False, False),
        ("/ip4/5.5.5.1/tcp/4001/ws", False, False),
        ("/dns4/example.com/tcp/4001", False, False),
        (f"/ip4/5.5.5.10/tcp/4001/p2p/{RELAY}/p2p-circuit", False, False),
    ],
)  # fmt: skip
def test_punchable(addr: str, public_only: bool, any_ip: bool) -> None:
    assert punchable(Multiaddr(addr)) is public_only
    assert punchable(Multiaddr(addr), allow_private=True) is any_ip


def test_direct_dial_candidates() -> None:
    addrs = [
        Multiaddr(a)
        for a in (
            "/ip4/5.5.5.5/tcp/4001",
            "/ip4/5.5.5.5/udp/4001/quic-v1",
            "/ip4/10.0.0.1/tcp/4001",
            "/ip4/5.5.5.6/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit",
            "/dns4/example.com/tcp/4001",
            "/ip4/0.0.0.0/tcp/4001",
            "/ip4/5.5.5.5/tcp/4001",
            "/ip6/2001:4860::1/tcp/4001/ws",
        )
    ]
    assert direct(addrs, limit=8) == [addrs[0], addrs[1], addrs[7]]
    assert direct(addrs, allow_private=True, limit=8) == [addrs[0], addrs[1], addrs[2], addrs[7]]
    assert direct(addrs, limit=1) == [addrs[0]]


def test_select_and_observed() -> None:
    private = Multiaddr("/ip4/10.1.0.2/tcp/4001")
    assert select([private, PUBLIC, PUBLIC, PUBLIC6], limit=8) == [PUBLIC, PUBLIC6]
    assert select([private, PUBLIC, PUBLIC6], limit=1, allow_private=True) == [private]
    counts = {str(PUBLIC6): 1, str(PUBLIC): 3, "not an address": 9}
    assert observed(counts) == [PUBLIC, PUBLIC6]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": True},
        {"max_addrs": 5000},
        {"dial_timeout": 0},
        {"stream_timeout": -1.0},
        {"message_timeout": "5"},
        {"addrs": "not callable"},
    ],
)
def test_config_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidConfigError):
        DCUtRConfig(**kwargs)  # type: ignore[arg-type]


def test_round_roles_alternate_and_always_agree() -> None:
    initiator = [round_role(n, initiator=True) for n in (1, 2, 3)]
    responder = [round_role(n, initiator=False) for n in (1, 2, 3)]
    assert initiator == [Role.INITIATOR, Role.RESPONDER, Role.INITIATOR]  # spec, swapped, spec
    assert all(a is b.opposite for a, b in zip(initiator, responder, strict=True))
