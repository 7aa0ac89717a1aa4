"""The Multiaddr value type: immutability, composition, peer ids, transport helpers."""

from __future__ import annotations

import copy
import pickle

import pytest

from p2pstack.errors import MultiaddrError
from p2pstack.identity.peer_id import PeerId
from p2pstack.multiaddr import Component, Multiaddr, protocol_by_code, protocol_by_name
from p2pstack.multiaddr.protocols import P2P, TCP, WS

PEER_A = PeerId.from_string("12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv")
PEER_B = PeerId.from_string("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")


def test_equality_hash_and_constructors() -> None:
    text = "/ip4/1.2.3.4/tcp/80"
    a = Multiaddr(text)
    assert a == Multiaddr.from_string(text) == Multiaddr(a.to_bytes()) == Multiaddr(a)
    assert a == Multiaddr(bytearray(a.to_bytes())) == Multiaddr(memoryview(a.to_bytes()))
    assert a == Multiaddr.from_bytes(bytearray(bytes(a)))
    assert hash(a) == hash(Multiaddr(text))
    assert len({a, Multiaddr(text), Multiaddr("/ip4/1.2.3.4/tcp/81")}) == 2
    assert a != text
    assert repr(a) == "Multiaddr('/ip4/1.2.3.4/tcp/80')"
    assert Multiaddr() == Multiaddr("") == Multiaddr(b"")
    assert str(Multiaddr()) == ""
    assert Multiaddr().to_bytes() == b""


def test_immutable_and_picklable() -> None:
    a = Multiaddr("/ip4/1.2.3.4/tcp/80")
    with pytest.raises(AttributeError):
        a._bytes = b""
    with pytest.raises(AttributeError):
        a.other = 1
    with pytest.raises(AttributeError):
        del a._bytes
    assert pickle.loads(pickle.dumps(a)) == a
    assert copy.deepcopy(a) == a


def test_components() -> None:
    ma = Multiaddr(f"/dns4/example.com/tcp/443/wss/p2p/{PEER_A}")
    comps = ma.components()
    assert [c.name for c in comps] == ["dns4", "tcp", "wss", "p2p"]
    assert [c.code for c in comps] == [0x36, 6, 0x01DE, 0x01A5]
    assert [c.value for c in comps] == ["example.com", "443", None, str(PEER_A)]
    assert comps[1] == Component(TCP, "443") == Component.parse("tcp", "443")
    assert comps[1].raw == b"\x01\xbb"
    assert str(comps[3]) == f"/p2p/{PEER_A}"
    assert Component.parse("ipfs", str(PEER_A)) == comps[3]
    assert Multiaddr.from_components(comps) == ma
    assert ma.protocols() == ["dns4", "tcp", "wss", "p2p"]
    with pytest.raises(MultiaddrError, match="takes no value"):
        Component(WS, "x")
    with pytest.raises(MultiaddrError, match="missing value"):
        Component(TCP)
    with pytest.raises(MultiaddrError, match="invalid port"):
        Component(TCP, "99999")
    assert Component(TCP, "0080").value == "80"


def test_protocol_lookup() -> None:
    assert protocol_by_name("ipfs") is P2P
    assert protocol_by_code(0x01A5) is P2P
    with pytest.raises(MultiaddrError):
        protocol_by_name("nope")
    with pytest.raises(MultiaddrError):
        protocol_by_code(0x7777)


def test_encapsulate_and_decapsulate() -> None:
    base = Multiaddr("/ip4/1.2.3.4/tcp/80")
    full = base.encapsulate("/ws").encapsulate(Multiaddr(f"/p2p/{PEER_A}"))
    assert full == base / "/ws" / f"/p2p/{PEER_A}"
    assert str(full) == f"/ip4/1.2.3.4/tcp/80/ws/p2p/{PEER_A}"
    assert full.decapsulate("/ws") == base
    assert full.decapsulate("ws") == base
    assert full.decapsulate(Multiaddr(f"/p2p/{PEER_A}")) == base / "/ws"
    assert full.decapsulate("/tcp/80") == Multiaddr("/ip4/1.2.3.4")
    assert full.decapsulate("/tcp/81") == full
    assert full.decapsulate("udp") == full
    assert full.decapsulate("/ip4/1.2.3.4") == Multiaddr()
    assert full.decapsulate("") == full
    twice = Multiaddr("/ip4/1.2.3.4/tcp/1/ws/tcp/1/ws")
    assert twice.decapsulate("/tcp/1") == Multiaddr("/ip4/1.2.3.4/tcp/1/ws")
    assert twice.decapsulate("tcp") == Multiaddr("/ip4/1.2.3.4/tcp/1/ws")


def test_value_for_and_has_protocol() -> None:
    ma = Multiaddr(f"/ip4/1.2.3.4/tcp/80/tcp/81/ws/p2p/{PEER_A}")
    assert ma.value_for("tcp") == "80"
    assert ma.value_for("ip4") == "1.2.3.4"
    assert ma.value_for("ipfs") == str(PEER_A)
    assert ma.value_for("udp") is None
    assert ma.value_for("ws") is None
    assert ma.has_protocol("ws")
    assert not ma.has_protocol("wss")
    with pytest.raises(MultiaddrError):
        ma.value_for("bogus")


def test_peer_id_helpers() -> None:
    plain = Multiaddr("/ip4/1.2.3.4/tcp/80")
    assert plain.peer_id() is None
    assert plain.without_peer_id() is plain
    with_a = plain.with_peer_id(PEER_A)
    assert str(with_a) == f"/ip4/1.2.3.4/tcp/80/p2p/{PEER_A}"
    assert with_a.peer_id() == PEER_A
    assert with_a.without_peer_id() == plain
    assert with_a.with_peer_id(PEER_B).peer_id() == PEER_B
    assert with_a.with_peer_id(PEER_B).without_peer_id() == plain
    assert Multiaddr(f"/ipfs/{PEER_B}").peer_id() == PEER_B

    relay = Multiaddr(f"/ip4/1.2.3.4/tcp/80/p2p/{PEER_A}/p2p-circuit")
    assert relay.peer_id() is None
    assert relay.without_peer_id() == relay
    target = relay.with_peer_id(PEER_B)
    assert str(target) == f"/ip4/1.2.3.4/tcp/80/p2p/{PEER_A}/p2p-circuit/p2p/{PEER_B}"
    assert target.peer_id() == PEER_B
    assert target.without_peer_id() == relay


@pytest.mark.parametrize(
    ("text", "transport", "expected"),
    [
        ("/ip4/1.2.3.4/tcp/80", "tcp", ("1.2.3.4", 80)),
        (f"/ip6/::1/tcp/4001/ws/p2p/{PEER_A}", "tcp", ("::1", 4001)),
        ("/dns4/example.com/tcp/443/wss", "tcp", ("example.com", 443)),
        ("/dns/example.com/udp/53", "udp", ("example.com", 53)),
        ("/ip6zone/eth0/ip6/fe80::1/tcp/80", "tcp", ("fe80::1%eth0", 80)),
        ("/ip4/1.2.3.4/udp/80", "tcp", None),
        ("/ip4/1.2.3.4", "tcp", None),
        ("/ip6zone/eth0/tcp/80", "tcp", None),
        ("/ip6zone/eth0", "tcp", None),
        ("/dnsaddr/example.com/tcp/80", "tcp", None),
        ("/memory/1", "memory", None),
        ("/p2p-circuit", "tcp", None),
        ("", "tcp", None),
    ],
)
def test_host_port(text: str, transport: str, expected: tuple[str, int] | None) -> None:
    assert Multiaddr(text).host_port(transport) == expected


@pytest.mark.parametrize(
    ("host", "port", "transport", "text"),
    [
        ("127.0.0.1", 4001, "tcp", "/ip4/127.0.0.1/tcp/4001"),
        ("::1", 0, "tcp", "/ip6/::1/tcp/0"),
        ("fe80::1%eth0", 80, "udp", "/ip6zone/eth0/ip6/fe80::1/udp/80"),
        ("example.com", 443, "tcp", "/dns/example.com/tcp/443"),
    ],
)
def test_from_host_port(host: str, port: int, transport: str, text: str) -> None:
    ma = Multiaddr.from_host_port(host, port, transport)
    assert str(ma) == text
    assert ma.host_port(transport) == (host, port)


def test_from_host_port_rejects() -> None:
    with pytest.raises(MultiaddrError, match="invalid port"):
        Multiaddr.from_host_port("1.2.3.4", 70000)
    with pytest.raises(MultiaddrError, match="zone"):
        Multiaddr.from_host_port("1.2.3.4%eth0", 1)
    with pytest.raises(MultiaddrError):
        Multiaddr.from_host_port("a/b", 1)
