"""The pure mDNS record code: names, dnsaddr strings, TXT building and parsing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from p2pstack.errors import DecodeError, InvalidConfigError
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns.records import (
    MAX_STRING,
    PEER_NAME_MAX,
    PEER_NAME_MIN,
    Announcement,
    TxtRecordError,
    build_txt,
    dnsaddr_string,
    dnsaddr_value,
    generate_peer_name,
    instance_name,
    is_advertisable,
    is_instance_of,
    order_addrs,
    parse_announcement,
    split_txt,
    validate_peer_name,
    validate_service_type,
)

ALICE = Identity.generate().peer_id
BOB = Identity.generate().peer_id
A1 = Multiaddr("/ip4/10.0.0.1/tcp/4001")
A2 = Multiaddr("/ip6/::1/tcp/4002")
LO = Multiaddr("/ip4/127.0.0.1/tcp/4003")


def txt(*strings: bytes) -> bytes:
    return b"".join(bytes([len(s)]) + s for s in strings)


def da(addr: Multiaddr | str, peer: object = ALICE) -> bytes:
    return f"dnsaddr={addr}/p2p/{peer}".encode()


def test_peer_names_are_random_labels() -> None:
    names = {generate_peer_name() for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert PEER_NAME_MIN <= len(name) <= PEER_NAME_MAX
        assert validate_peer_name(name) == name
        assert str(ALICE).lower() not in name
    assert len({len(n) for n in names}) > 1  # the length varies too
    assert len(generate_peer_name(32)) == 32
    with pytest.raises(InvalidConfigError):
        generate_peer_name(64)


@pytest.mark.parametrize("bad", ["short", "A" * 40, "a" * 64, "a" * 31, "with-dash" + "a" * 30])
def test_bad_peer_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidConfigError):
        validate_peer_name(bad)


def test_service_types() -> None:
    assert validate_service_type("_p2p._udp.local.")
    assert validate_service_type("_p2p-0a1b._udp.local.")
    with pytest.raises(InvalidConfigError):
        validate_service_type("_http._tcp.local.")


def test_instance_names() -> None:
    name = instance_name("a" * 40)
    assert name == "a" * 40 + "._p2p._udp.local."
    assert is_instance_of(name)
    assert is_instance_of(name.upper())
    assert not is_instance_of("_p2p._udp.local.")
    assert not is_instance_of("x.y._p2p._udp.local.")
    assert not is_instance_of("a" * 64 + "._p2p._udp.local.")
    assert not is_instance_of("abc._http._tcp.local.")


def test_dnsaddr_string_and_limit() -> None:
    assert dnsaddr_string(A1, ALICE) == da(A1)
    long = Multiaddr("/dns4/" + "a" * 200 + ".local/tcp/1")
    assert dnsaddr_string(long, ALICE) is None


def test_build_txt_one_string_per_address_within_limits() -> None:
    long = Multiaddr("/dns4/" + "a" * 200 + ".local/tcp/1")
    built = build_txt([A1, long, A2], ALICE)
    assert split_txt(built.rdata) == [da(A1), da(A2)]
    assert built.included == (A1, A2)
    assert built.skipped == (long,)
    assert all(len(s) <= MAX_STRING for s in split_txt(built.rdata))
    many = [Multiaddr(f"/ip4/10.0.0.1/tcp/{port}") for port in range(1000, 1100)]
    capped = build_txt(many, ALICE, max_bytes=500)
    assert len(capped.rdata) <= 500
    assert capped.included
    assert capped.skipped


def test_round_trip() -> None:
    built = build_txt([A1, A2], ALICE)
    ann = parse_announcement(split_txt(built.rdata))
    assert ann == Announcement(ALICE, (A1, A2))


def test_advertisable_and_order() -> None:
    assert is_advertisable(A1)
    assert is_advertisable(Multiaddr("/dns4/host.local/tcp/1"))
    assert not is_advertisable(Multiaddr("/dns4/example.com/tcp/1"))
    assert not is_advertisable(Multiaddr("/ip4/1.2.3.4/tcp/1/ws"))
    relayed = f"/ip4/1.2.3.4/tcp/1/p2p/{BOB}/p2p-circuit"
    assert not is_advertisable(Multiaddr(relayed))
    assert order_addrs([LO, A1, LO, A2]) == [A1, LO, A2]  # A2 is ::1, loopback too
    assert order_addrs([A1, LO], loopback_first=True)[0] == LO


def test_keys() -> None:
    assert dnsaddr_value(b"dnsaddr=/x") == b"/x"
    assert dnsaddr_value(b"DNSADDR=/x") == b"/x"
    assert dnsaddr_value(b"dnsaddr2=/x") == b"/x"  # py-libp2p 0.8's extra addresses
    assert dnsaddr_value(b"dnsaddr") is None
    assert dnsaddr_value(b"other=/x") is None
    assert dnsaddr_value(b"dnsaddrx=/x") is None


def test_bad_strings_are_skipped_not_fatal() -> None:
    strings = [b"txtvers=1", da(A1), b"dnsaddr=/ip4/999.1.1.1/tcp/1", b"dnsaddr=\xff\xfe",
               f"dnsaddr={A2}".encode()]  # fmt: skip
    ann = parse_announcement(strings)
    assert ann is not None
    assert ann.peer_id == ALICE
    assert ann.addrs == (A1,)
    assert len(ann.skipped) == 3


def test_no_dnsaddr_is_not_libp2p() -> None:
    assert parse_announcement([b"txtvers=1", b""]) is None
    assert parse_announcement([]) is None


def test_all_bad_is_an_error() -> None:
    with pytest.raises(TxtRecordError):
        parse_announcement([b"dnsaddr=garbage", f"dnsaddr={A1}".encode()])


def test_mixed_peer_ids_are_refused() -> None:
    with pytest.raises(TxtRecordError, match="two peers"):
        parse_announcement([da(A1, ALICE), da(A2, BOB)])


def test_address_limit_and_duplicates() -> None:
    strings = [da(f"/ip4/10.0.0.1/tcp/{p}") for p in range(1, 40)] + [da(A1), da(A1)]
    ann = parse_announcement(strings, max_addrs=8)
    assert ann is not None
    assert len(ann.addrs) == 8
    assert len(set(ann.addrs)) == 8


def test_split_txt_errors() -> None:
    assert split_txt(b"") == []
    assert split_txt(b"\x00") == [b""]
    with pytest.raises(TxtRecordError):
        split_txt(b"\x05abc")
    with pytest.raises(TxtRecordError):
        split_txt(txt(*[b"a"] * 10), max_strings=5)


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_any_rdata_splits_or_raises_our_error(data: bytes) -> None:
    try:
        strings = split_txt(data)
    except TxtRecordError:
        return
    assert b"".join(bytes([len(s)]) + s for s in strings) == data


@settings(max_examples=500)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=255),
            st.binary(max_size=80).map(lambda b: b"dnsaddr=" + b),
            st.text(max_size=80).map(lambda t: b"dnsaddr=/" + t.encode()),
            st.sampled_from([da(A1), da(A2, BOB), da(LO), b"dnsaddr=/ip4/1.2.3.4/tcp/5/p2p/x"]),
        ),
        max_size=20,
    )
)
def test_any_strings_parse_or_raise_our_error(strings: list[bytes]) -> None:
    try:
        ann = parse_announcement(strings, max_addrs=4)
    except DecodeError:  # TxtRecordError is one; nothing else may escape
        return
    if ann is not None:
        assert 1 <= len(ann.addrs) <= 4
        assert all(a.peer_id() is None for a in ann.addrs)
