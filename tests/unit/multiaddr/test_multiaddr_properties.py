"""Hypothesis: round trips over valid multiaddrs; arbitrary input decodes or raises ours."""

from __future__ import annotations

import base64
import ipaddress
import string

import base58
from hypothesis import assume, example, given, strategies as st

from p2pstack.errors import MultiaddrError
from p2pstack.multiaddr import MAX_BINARY_SIZE, Multiaddr
from p2pstack.varint import encode_uvarint

# --- string-form strategies: canonical "/name[/value]" elements ---------------------------


def _ip6_text(addr: ipaddress.IPv6Address) -> str:
    mapped = addr.ipv4_mapped
    return f"::ffff:{mapped}" if mapped else str(addr)


_names = st.text(min_size=1, max_size=20).filter(lambda s: "/" not in s)
_sha256_ids = st.binary(min_size=32, max_size=32).map(lambda d: b"\x12\x20" + d)
_identity_ids = st.binary(min_size=1, max_size=42).map(lambda k: bytes((0, len(k))) + k)
_peer_ids = st.one_of(_sha256_ids, _identity_ids)
_multihashes = st.builds(
    lambda code, digest: encode_uvarint(code) + encode_uvarint(len(digest)) + digest,
    st.integers(0, 1 << 20),
    st.binary(max_size=48),
)
_PATH_CHARS = string.ascii_letters + string.digits + "-_.~$&+:=@"


def _b64url(raw: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


_string_elements = st.one_of(
    st.ip_addresses(v=4).map(lambda a: f"/ip4/{a}"),
    st.ip_addresses(v=6).map(lambda a: f"/ip6/{_ip6_text(a)}"),  # type: ignore[arg-type]
    st.builds("/{}/{}".format, st.sampled_from(["tcp", "udp"]), st.integers(0, 65535)),
    st.builds("/{}/{}".format, st.sampled_from(["dns", "dns4", "dns6", "dnsaddr"]), _names),
    _names.map(lambda s: f"/sni/{s}"),
    _names.map(lambda s: f"/ip6zone/{s}"),
    _peer_ids.map(lambda mh: f"/p2p/{base58.b58encode(mh).decode()}"),
    _multihashes.map(lambda mh: f"/certhash/{_b64url(mh)}"),
    st.text(_PATH_CHARS, min_size=1, max_size=20).map(lambda s: f"/http-path/{s}"),
    st.integers(0, (1 << 64) - 1).map(lambda n: f"/memory/{n}"),
    st.sampled_from(
        [
            "/ws",
            "/wss",
            "/tls",
            "/noise",
            "/quic",
            "/quic-v1",
            "/webtransport",
            "/http",
            "/p2p-circuit",
        ]
    ),
)


@given(st.lists(_string_elements, max_size=8).map("".join))
def test_string_round_trip(text: str) -> None:
    ma = Multiaddr(text)
    assert str(ma) == text
    assert Multiaddr.from_bytes(ma.to_bytes()) == ma
    assert str(Multiaddr.from_bytes(ma.to_bytes())) == text


# --- binary-form strategies: (code, value-bytes) pairs encoded independently ---------------

_FIXED = {0x04: 4, 0x06: 2, 0x0111: 2, 0x29: 16, 0x0309: 8}
_EMPTY = [0x0122, 0x01C0, 0x01C6, 0x01CC, 0x01CD, 0x01D1, 0x01DD, 0x01DE, 0x01E0]
_name_bytes = _names.map(lambda s: s.encode())


def _variable(code: int, raw: bytes) -> bytes:
    return encode_uvarint(code) + encode_uvarint(len(raw)) + raw


_binary_elements = st.one_of(
    st.sampled_from(sorted(_FIXED)).flatmap(
        lambda code: st.binary(min_size=_FIXED[code], max_size=_FIXED[code]).map(
            lambda raw: encode_uvarint(code) + raw
        )
    ),
    st.sampled_from(_EMPTY).map(encode_uvarint),
    st.builds(_variable, st.sampled_from([0x2A, 0x35, 0x36, 0x37, 0x38, 0x01C1]), _name_bytes),
    _peer_ids.map(lambda mh: _variable(0x01A5, mh)),
    _multihashes.map(lambda mh: _variable(0x01D2, mh)),
    st.binary(min_size=1, max_size=40).map(lambda raw: _variable(0x01E1, raw)),
)


@given(st.lists(_binary_elements, max_size=8).map(b"".join))
def test_bytes_round_trip(data: bytes) -> None:
    assume(len(data) <= MAX_BINARY_SIZE)
    ma = Multiaddr.from_bytes(data)
    assert ma.to_bytes() == data
    text = str(ma)
    assert Multiaddr.from_string(text).to_bytes() == data
    assert str(Multiaddr.from_string(text)) == text
    assert Multiaddr.from_components(ma.components()) == ma


# --- arbitrary input: decode, or raise MultiaddrError, nothing else -----------------------


@given(st.binary(max_size=200))
@example(b"\x04\x01\x02\x03")
@example(b"\xa5\x03\x02\x00\x00")
@example(b"\xd2\x03\x02\x12\x00")
def test_any_bytes_decode_or_raise_multiaddr_error(data: bytes) -> None:
    try:
        ma = Multiaddr.from_bytes(data)
    except MultiaddrError:
        return
    assert ma.to_bytes() == data
    assert Multiaddr.from_string(str(ma)) == ma


@given(st.lists(_binary_elements, min_size=1, max_size=4).map(b"".join), st.data())
def test_mutated_bytes_decode_or_raise(data: bytes, draw: st.DataObject) -> None:
    index = draw.draw(st.integers(0, len(data) - 1))
    byte = draw.draw(st.integers(0, 255))
    cut = draw.draw(st.integers(0, len(data)))
    mutated = (data[:index] + bytes((byte,)) + data[index + 1 :])[:cut]
    try:
        ma = Multiaddr.from_bytes(mutated)
    except MultiaddrError:
        return
    assert ma.to_bytes() == mutated


_texty = st.one_of(
    st.text(max_size=100),
    st.lists(
        st.one_of(
            st.sampled_from(["ip4", "ip6", "tcp", "udp", "dns4", "p2p", "ipfs", "ws", "certhash"]),
            st.sampled_from(["http-path", "memory", "ip6zone", "sni", "1.2.3.4", "::1", "80"]),
            st.text(max_size=12),
        ),
        max_size=8,
    ).map(lambda parts: "/" + "/".join(parts)),
)


@given(_texty)
@example("/ip4/1.2.3.4/tcp/80/")
@example("/http-path/%FF")
@example("/certhash/U====")
def test_any_text_decodes_or_raises_multiaddr_error(text: str) -> None:
    try:
        ma = Multiaddr.from_string(text)
    except MultiaddrError:
        return
    again = Multiaddr.from_string(str(ma))
    assert again == ma
    assert str(again) == str(ma)
