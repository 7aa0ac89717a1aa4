"""What presence publishes as reachability changes (pure): the ``<p2p/>`` address order, the
``<relay/>`` element both ways, and the dial order that uses it."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, strategies as st

from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.xmpp.dial import candidate_addrs
from p2pstack.protocols.discovery.xmpp.presence import (
    MAX_RELAYS,
    RELAY_NS,
    P2PInfo,
    PresencePayloadError,
    build_payload,
    parse_presence,
    parse_relay,
    relayed,
)
from p2pstack.protocols.discovery.xmpp.service import choose_own_p2p
from p2pstack.protocols.nat import NatState, PortMapping

KEY = Identity.generate().public_key.raw_bytes()
RELAY_ID = Identity.generate().peer_id
ME = Identity.generate().peer_id
LISTEN = [
    Multiaddr("/ip4/127.0.0.1/tcp/4001"),
    Multiaddr("/ip4/10.0.0.2/tcp/4001"),
    Multiaddr(f"/ip4/7.7.7.7/tcp/4003/p2p/{RELAY_ID}/p2p-circuit"),  # never a direct address
]
NAT = NatState(
    version=1,
    lan_ip="10.0.0.2",
    external_ip="1.2.3.4",
    mappings=(PortMapping("1.2.3.4", 40001, "10.0.0.2", 4001, 3600),),
)


def p2p(ext: str, loc: str) -> P2PInfo:
    (ei, ep), (li, lp) = (a.rsplit(":", 1) for a in (ext, loc))
    return P2PInfo(ext_ip=ei, ext_port=int(ep), loc_ip=li, loc_port=int(lp))


def test_external_address_order() -> None:
    # nothing measured, no UPnP: the local address (not loopback, not the relay's)
    assert choose_own_p2p(LISTEN, None) == p2p("10.0.0.2:4001", "10.0.0.2:4001")
    # a manual port forward
    assert choose_own_p2p(LISTEN, None, external=("5.5.5.5", 4100)) == p2p(
        "5.5.5.5:4100", "10.0.0.2:4001"
    )
    # an announced address (a mapping another service made) comes before the manual one
    announced = [Multiaddr("/ip4/4.4.4.4/tcp/4200"), Multiaddr("/ip6/2001:db8::2/tcp/1")]
    assert choose_own_p2p(LISTEN, None, external=("5.5.5.5", 4100), announced=announced) == p2p(
        "4.4.4.4:4200", "10.0.0.2:4001"
    )
    # the UPnP mapping comes before the announced and the manual one
    assert choose_own_p2p(LISTEN, NAT, external=("5.5.5.5", 4100), announced=announced) == p2p(
        "1.2.3.4:40001", "10.0.0.2:4001"
    )
    # an address confirmed public comes first (an observed mapping the gateway did not make)
    public = [Multiaddr("/ip4/6.6.6.6/tcp/50000")]
    assert choose_own_p2p(LISTEN, NAT, public=public) == p2p("6.6.6.6:50000", "10.0.0.2:4001")
    # the confirmed address is the UPnP mapping: its internal side is the local address
    assert choose_own_p2p(LISTEN, NAT, public=[Multiaddr("/ip4/1.2.3.4/tcp/40001")]) == p2p(
        "1.2.3.4:40001", "10.0.0.2:4001"
    )
    # a public listen address: local and external alike; IPv4 before IPv6
    direct = [*LISTEN, Multiaddr("/ip4/8.8.4.4/tcp/4001")]
    confirmed = [Multiaddr("/ip6/2001:db8::1/tcp/4001"), Multiaddr("/ip4/8.8.4.4/tcp/4001")]
    assert choose_own_p2p(direct, None, public=confirmed) == p2p("8.8.4.4:4001", "8.8.4.4:4001")
    assert choose_own_p2p(LISTEN, None, public=confirmed[:1]) == p2p(
        "2001:db8::1:4001", "10.0.0.2:4001"
    )
    # relayed addresses only: no <p2p/>
    assert choose_own_p2p(LISTEN[2:], None) is None


def test_relay_element_roundtrip() -> None:
    ours = [a.encapsulate(f"/p2p/{ME}") for a in LISTEN]
    relays = relayed(ours)
    assert relays == (Multiaddr(f"/ip4/7.7.7.7/tcp/4003/p2p/{RELAY_ID}/p2p-circuit"),)
    payload = build_payload(p2p("1.2.3.4:1", "10.0.0.2:1"), KEY, relays)
    wire = ET.fromstring(
        ET.tostring(ET.Element("presence")).replace(b"/>", b">")
        + b"".join(ET.tostring(e) for e in payload)
        + b"</presence>"
    )
    parsed = parse_presence(list(wire))
    assert parsed.relays == relays
    assert parsed.errors == ()
    assert parsed.p2p is not None


@pytest.mark.parametrize(
    "addr",
    [
        "/ip4/7.7.7.7/tcp/4003/p2p-circuit",  # no relay id
        f"/ip4/7.7.7.7/tcp/4003/p2p/{RELAY_ID}",  # not a circuit
        f"/ip4/7.7.7.7/tcp/4003/p2p/{RELAY_ID}/p2p-circuit/p2p/{ME}",  # names the target
        f"/p2p/{RELAY_ID}/p2p-circuit/p2p/{RELAY_ID}/p2p-circuit",  # two hops
        "garbage",
        "/ip4/1.2.3.4/tcp/1" * 100,
    ],
)
def test_bad_relay_elements_are_dropped(addr: str) -> None:
    element = ET.Element(f"{{{RELAY_NS}}}relay", {"addr": addr})
    with pytest.raises(PresencePayloadError):
        parse_relay(element)
    good = ET.Element(f"{{{RELAY_NS}}}relay", {"addr": f"/p2p/{RELAY_ID}/p2p-circuit"})
    parsed = parse_presence([element, good])
    assert parsed.relays == (Multiaddr(f"/p2p/{RELAY_ID}/p2p-circuit"),)
    assert len(parsed.errors) == 1


def test_relay_elements_are_bounded() -> None:
    many = [
        ET.Element(
            f"{{{RELAY_NS}}}relay", {"addr": f"/ip4/7.7.7.{i}/tcp/1/p2p/{RELAY_ID}/p2p-circuit"}
        )
        for i in range(100)
    ]
    parsed = parse_presence(many)
    assert len(parsed.relays) == MAX_RELAYS
    assert len(parsed.errors) == 100 - MAX_RELAYS


@given(st.text(max_size=200))
def test_any_relay_text_parses_or_raises_typed(text: str) -> None:
    try:
        addr = parse_relay(ET.Element(f"{{{RELAY_NS}}}relay", {"addr": text}))
    except PresencePayloadError:
        return
    assert addr.has_protocol("p2p-circuit")


def test_dial_order_with_published_relays() -> None:
    peer = Identity.generate().peer_id
    own = p2p("1.2.3.4:4001", "10.0.0.2:4001")
    theirs = p2p("5.6.7.8:4001", "192.168.1.5:4001")
    published = Multiaddr(f"/ip4/7.7.7.7/tcp/4003/p2p/{RELAY_ID}/p2p-circuit")
    configured = Multiaddr(f"/ip4/9.9.9.9/tcp/4001/p2p/{Identity.generate().peer_id}")
    got = candidate_addrs(own, theirs, peer, configured, [published])
    assert [(k, str(a)) for k, a in got] == [
        ("external", f"/ip4/5.6.7.8/tcp/4001/p2p/{peer}"),
        ("local", f"/ip4/192.168.1.5/tcp/4001/p2p/{peer}"),
        ("relay", f"{published}/p2p/{peer}"),
        ("relay", f"{configured}/p2p-circuit/p2p/{peer}"),
    ]
    # the configured relay is the published one: tried once
    same = Multiaddr(f"/ip4/7.7.7.7/tcp/4003/p2p/{RELAY_ID}")
    assert len(candidate_addrs(own, theirs, peer, same, [published])) == 3
