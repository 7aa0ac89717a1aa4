from __future__ import annotations

import base64
import contextlib
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given, strategies as st

from p2pstack.identity import Ed25519PublicKey, Identity
from p2pstack.protocols.discovery.xmpp.jid import Jid, JidError
from p2pstack.protocols.discovery.xmpp.presence import (
    E2E_NAMESPACES,
    P2P_NAMESPACES,
    P2PInfo,
    PresencePayloadError,
    build_caps,
    build_payload,
    canonical_ip,
    caps_ver,
    parse_e2e,
    parse_p2p,
    parse_presence,
)

KEY = Identity.generate().public_key.raw_bytes()


def p2p_el(ns: str = P2P_NAMESPACES[0], **attrs: str) -> ET.Element:
    base = {"extIp": "81.229.1.2", "extPort": "64152", "locIp": "192.168.1.219", "locPort": "4001"}
    base.update(attrs)
    return ET.Element(f"{{{ns}}}p2p", {k: v for k, v in base.items() if v != "-"})


def e2e_el(ns: str = E2E_NAMESPACES[0], pub: str | None = None) -> ET.Element:
    e2e = ET.Element(f"{{{ns}}}e2e")
    ET.SubElement(e2e, f"{{{ns}}}x25519", {"pub": "AAAA"})
    ET.SubElement(e2e, f"{{{ns}}}ed25519", {"pub": pub or base64.b64encode(KEY).decode()})
    return e2e


@pytest.mark.parametrize("ns", P2P_NAMESPACES)
def test_p2p_all_namespace_variants(ns: str) -> None:
    info = parse_p2p(p2p_el(ns))
    assert info == P2PInfo(
        ext_ip="81.229.1.2", ext_port=64152, loc_ip="192.168.1.219", loc_port=4001
    )


@pytest.mark.parametrize("ns", E2E_NAMESPACES)
def test_e2e_all_namespace_variants(ns: str) -> None:
    assert parse_e2e(e2e_el(ns)) == KEY


@pytest.mark.parametrize(
    "attrs",
    [
        {"extPort": "0"},
        {"locPort": "65536"},
        {"extPort": "-1"},
        {"extPort": "12a"},
        {"extPort": "-"},
        {"locIp": "-"},
        {"extIp": "300.1.1.1"},
        {"locIp": "example.org"},
        {"extPort": "٣"},
    ],
)
def test_p2p_invalid(attrs: dict[str, str]) -> None:
    with pytest.raises(PresencePayloadError):
        parse_p2p(p2p_el(**attrs))
    payload = parse_presence([p2p_el(**attrs), e2e_el()])
    assert payload.p2p is None
    assert payload.ed25519 == KEY
    assert payload.errors


def test_ip_canonical_forms() -> None:
    assert canonical_ip("::ffff:10.0.0.1") == "10.0.0.1"
    assert canonical_ip("fe80::1%eth0") == "fe80::1"
    assert canonical_ip("2001:DB8:0:0::1") == "2001:db8::1"
    info = parse_p2p(p2p_el(extIp="::ffff:1.2.3.4", locIp="2001:db8::0:1"))
    assert (info.ext_ip, info.loc_ip) == ("1.2.3.4", "2001:db8::1")


@pytest.mark.parametrize(
    "pub", [base64.b64encode(b"x" * 31).decode(), base64.b64encode(b"x" * 33).decode(), "!!!"]
)
def test_e2e_bad_key(pub: str) -> None:
    with pytest.raises(PresencePayloadError):
        parse_e2e(e2e_el(pub=pub))
    assert parse_presence([e2e_el(pub=pub)]).ed25519 is None


def test_other_namespace_ignored() -> None:
    other = ET.Element("{urn:example:p2p}p2p", {"extIp": "1.2.3.4"})
    assert parse_presence([other]).p2p is None


def test_build_roundtrip_through_xml_text() -> None:
    info = P2PInfo(ext_ip="1.2.3.4", ext_port=4001, loc_ip="10.0.0.2", loc_port=4001)
    presence = ET.Element("{jabber:client}presence")
    presence.extend(build_payload(info, KEY))
    text = ET.tostring(presence)
    assert b"urn:nf:iot:p2p:1.0" in text
    assert b"urn:nf:iot:e2e:1.0" in text
    payload = parse_presence(list(ET.fromstring(text)))
    assert payload.p2p == info
    assert payload.ed25519 == KEY
    assert payload.peer_id == Ed25519PublicKey.from_raw(KEY).to_peer_id()
    assert payload.caps_features_ver


def test_caps_ver_xep0115_example() -> None:
    identities = [("client", "pc", "", "Exodus 0.9.1")]
    features = [
        "http://jabber.org/protocol/caps",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/muc",
    ]
    assert caps_ver(identities, features, "sha1") == "QgayPKawpkPSDYmwT/WM94uAlu0="
    c = build_caps()
    assert c.get("hash") == "sha-256"


def test_jid_rules() -> None:
    j = Jid.parse("Alice@Example.ORG/Phone")
    assert str(j) == "alice@example.org/Phone"
    assert j.bare == "alice@example.org"
    assert Jid.parse("alice@example.org/phone") != j  # resources compare exactly
    for bad in ["", "@x", "a@", "a@b/", "a b@c", "a@b c"]:
        with pytest.raises(JidError):
            Jid.parse(bad)
    with pytest.raises(JidError):
        Jid.parse_full("alice@example.org")


@given(st.dictionaries(st.sampled_from(["extIp", "extPort", "locIp", "locPort"]), st.text()))
def test_any_attributes_parse_or_raise_typed(attrs: dict[str, str]) -> None:
    el = ET.Element(f"{{{P2P_NAMESPACES[1]}}}p2p", attrs)
    try:
        info = parse_p2p(el)
    except PresencePayloadError:
        return
    assert 1 <= info.ext_port <= 65535
    assert 1 <= info.loc_port <= 65535


@given(st.text())
def test_any_key_text_parses_or_raises_typed(text: str) -> None:
    el = ET.Element(f"{{{E2E_NAMESPACES[0]}}}e2e")
    ET.SubElement(el, f"{{{E2E_NAMESPACES[0]}}}ed25519", {"pub": text})
    try:
        key = parse_e2e(el)
    except PresencePayloadError:
        return
    assert key is not None
    assert len(key) == 32


@given(st.text(max_size=80))
def test_any_jid_parses_or_raises_typed(text: str) -> None:
    with contextlib.suppress(JidError):
        Jid.parse(text)


@pytest.mark.parametrize("text", ["a\ud800@example.org/r", "a@example.org/\udcff", "\udfff.org"])
def test_jid_with_lone_surrogates_is_a_jid_error(text: str) -> None:
    # Regression (fuzzing, issue 12): the length check encoded the parts and raised
    # UnicodeEncodeError instead of JidError.
    with pytest.raises(JidError, match="not valid Unicode"):
        Jid.parse(text)
