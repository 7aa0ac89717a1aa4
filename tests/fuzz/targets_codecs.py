"""Fuzz targets of the stateless decoders: varint, multiaddr, keys and peer ids, identify,
relay messages, vouchers and envelopes, signed peer records, request-response codecs, mDNS
TXT, XMPP presence, UPnP, the metrics endpoint's request heads.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from xml.etree import ElementTree as ET

from prometheus_client import CollectorRegistry, Counter

from p2pstack.host.metrics_server import answer
from p2pstack.host.peerstore import PeerStore, parse_records
from p2pstack.identity import Identity, PeerId, PrivateKey, PublicKey
from p2pstack.identity.envelope import open_envelope as open_any_envelope
from p2pstack.identity.record import (
    PEER_RECORD_DOMAIN,
    PEER_RECORD_PAYLOAD_TYPE,
    PeerRecord,
    open_peer_record,
)
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns.records import (
    dnsaddr_value,
    parse_announcement,
    parse_dnsaddr,
    split_txt,
)
from p2pstack.protocols.discovery.xmpp.jid import Jid
from p2pstack.protocols.discovery.xmpp.presence import (
    MAX_RELAYS,
    parse_e2e,
    parse_p2p,
    parse_presence,
    parse_relay,
)
from p2pstack.protocols.identify.codec import decode_identify
from p2pstack.protocols.identify.records import PeerRecords
from p2pstack.protocols.nat.upnp import Gateway, check_external_ip
from p2pstack.protocols.relay.envelope import Voucher, open_envelope, verify_voucher
from p2pstack.protocols.relay.messages import decode_hop, decode_stop
from p2pstack.protocols.request_response.codec import BytesCodec, DataclassCodec, JsonCodec
from p2pstack.varint import decode_uvarint, decode_uvarint_exact, split_length_prefixed

from .registry import chunks, decodes, target

ALICE = Identity.from_ed25519_seed(bytes(32))
BOB = Identity.from_ed25519_seed(bytes([1]) * 32)


def text_of(data: bytes) -> str:
    """Remote text as our code gets it: UTF-8 decoded, lone surrogates kept (hostile)."""
    return data.decode("utf-8", "surrogateescape")


# ----------------------------------------------------------------- varint, multiaddr
@target("varint")
def varint(data: bytes) -> None:
    for offset in range(min(len(data), 3)):
        decodes(decode_uvarint, data, offset)
        decodes(decode_uvarint_exact, data, offset)
    decodes(split_length_prefixed, data, 64)


def _use_multiaddr(addr: Multiaddr) -> None:
    """What the node does with a peer's address: print, re-parse, look inside.

    Both forms of a decoded address must decode again to the same address.
    """
    assert Multiaddr.from_string(str(addr)) == addr
    assert Multiaddr.from_bytes(addr.to_bytes()) == addr
    decodes(addr.peer_id)
    decodes(addr.host_port)
    decodes(addr.without_peer_id)
    hash(addr)


@target("multiaddr_bytes")
def multiaddr_bytes(data: bytes) -> None:
    addr = decodes(Multiaddr.from_bytes, data)
    if addr is not None:
        _use_multiaddr(addr)


@target("multiaddr_string")
def multiaddr_string(data: bytes) -> None:
    addr = decodes(Multiaddr.from_string, text_of(data))
    if addr is not None:
        _use_multiaddr(addr)


# ------------------------------------------------------------------- keys, peer ids
@target("public_key")
def public_key(data: bytes) -> None:
    key = decodes(PublicKey.from_protobuf, data)
    if key is not None:
        assert key.verify(data, data[:64]) in (True, False)
        key.to_peer_id()


@target("private_key")
def private_key(data: bytes) -> None:
    key = decodes(PrivateKey.from_protobuf, data)
    if key is not None:
        key.public_key.to_peer_id()


@target("peer_id_bytes")
def peer_id_bytes(data: bytes) -> None:
    peer = decodes(PeerId.from_bytes, data)
    if peer is not None:
        assert PeerId.from_string(peer.to_base58()) == peer
        assert PeerId.from_string(peer.to_cid()) == peer
        peer.inline_public_key()


@target("peer_id_string")
def peer_id_string(data: bytes) -> None:
    peer = decodes(PeerId.from_string, text_of(data))
    if peer is not None:
        inline = peer.inline_public_key()
        if inline is not None:
            decodes(PublicKey.from_protobuf, inline)


# --------------------------------------------------------------------------- identify
@target("identify")
def identify(data: bytes) -> None:
    decodes(decode_identify, chunks(data), ALICE.peer_id)


# ------------------------------------------------------------------------------ relay
@target("relay_hop")
def relay_hop(data: bytes) -> None:
    decodes(decode_hop, data)


@target("relay_stop")
def relay_stop(data: bytes) -> None:
    decodes(decode_stop, data)


@target("relay_voucher")
def relay_voucher(data: bytes) -> None:
    decodes(Voucher.from_bytes, data)
    decodes(verify_voucher, data, relay=ALICE.peer_id, peer=BOB.peer_id)


@target("signed_envelope")
def signed_envelope(data: bytes) -> None:
    decodes(open_envelope, data, "libp2p-relay-rsvp", b"\x03\x02")
    decodes(open_envelope, data, "", b"")
    decodes(open_any_envelope, data, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE)


@target("peer_record")
def peer_record(data: bytes) -> None:
    """A signed peer record as identify receives it (and as exported state holds it), and
    its payload alone. The identify side never raises: a bad record is an outcome."""
    decodes(PeerRecord.from_bytes, data)
    decodes(open_peer_record, data)
    opened = decodes(open_peer_record, data, expected_peer=ALICE.peer_id)
    store = PeerStore(clock=lambda: 0.0)
    outcome = PeerRecords().consume(store, ALICE.peer_id, data)
    assert (outcome == "certified") == (opened is not None)
    if opened is not None:
        assert store.certified_addrs(ALICE.peer_id) == list(opened.addrs)
        assert len(opened.addrs) <= 64
    decodes(parse_records, {str(ALICE.peer_id): data.hex()})


# ------------------------------------------------------------------- request-response
@dataclasses.dataclass
class _Request:
    name: str
    count: int = 0


@dataclasses.dataclass(frozen=True)
class _Empty:
    pass


_JSON: JsonCodec = JsonCodec()
_BYTES: BytesCodec = BytesCodec()
_DATACLASS: DataclassCodec[_Request, _Empty] = DataclassCodec(_Request, _Empty)


@target("rr_codecs")
def rr_codecs(data: bytes) -> None:
    decodes(_JSON.decode_request, data)
    decodes(_JSON.decode_response, data)
    assert _BYTES.decode_request(data) == data
    assert _BYTES.decode_response(data) == data
    decodes(_DATACLASS.decode_request, data)
    decodes(_DATACLASS.decode_response, data)


# ------------------------------------------------------------------------------- mDNS
@target("mdns_txt")
def mdns_txt(data: bytes) -> None:
    strings = decodes(split_txt, data)
    if strings is None:
        return
    decodes(parse_announcement, strings)
    decodes(parse_announcement, strings, max_addrs=1)
    for text in strings:
        value = dnsaddr_value(text)
        if value is not None:
            decodes(parse_dnsaddr, value)


# ------------------------------------------------------------------------------- XMPP
_PRESENCE_HEAD = (
    b"<presence xmlns='jabber:client' xmlns:p='urn:nf:iot:p2p:1.0' "
    b"xmlns:e='urn:nf:iot:e2e:1.0' xmlns:c='http://jabber.org/protocol/caps'>"
)


@target("xmpp_presence_xml")
def xmpp_presence_xml(data: bytes) -> None:
    """The bytes are the children of a presence (XML parsing itself is slixmpp's)."""
    try:
        root = ET.fromstring(_PRESENCE_HEAD + data + b"</presence>")
    except (ET.ParseError, ValueError):
        return  # not XML: slixmpp drops the stream before our code runs
    payload = parse_presence(list(root))
    _ = payload.peer_id
    assert len(payload.relays) <= MAX_RELAYS
    for child in root.iter():
        decodes(parse_p2p, child)
        decodes(parse_e2e, child)
        decodes(parse_relay, child)


@target("xmpp_jid")
def xmpp_jid(data: bytes) -> None:
    """A JID from a stanza's ``from``: parsed, and its printed form parses to the same."""
    jid = decodes(Jid.parse, text_of(data))
    if jid is not None:
        assert Jid.parse(str(jid)) == jid
    decodes(Jid.parse_full, text_of(data))


_P2P_ATTRS = ("extIp", "extPort", "locIp", "locPort")


@target("xmpp_presence_attrs")
def xmpp_presence_attrs(data: bytes) -> None:
    """Well-formed elements whose attribute values are the (NUL-separated) input."""
    values = [text_of(v) for v in data.split(b"\x00")]
    p2p = ET.Element("{urn:nf:iot:p2p:1.0}p2p", dict(zip(_P2P_ATTRS, values, strict=False)))
    e2e = ET.Element("{urn:nfi:iot:e2e:1.0}e2e")
    for value in values[4:6]:
        ET.SubElement(e2e, "{urn:nfi:iot:e2e:1.0}ed25519", {"pub": value})
    caps = ET.Element("{http://jabber.org/protocol/caps}c", {"ver": values[-1]})
    payload = parse_presence([p2p, e2e, caps])
    _ = payload.peer_id
    decodes(parse_p2p, p2p)
    decodes(parse_e2e, e2e)


# ------------------------------------------------------------------------------- UPnP
class _HostileUpnp:
    """A miniupnpc.UPnP stand-in answering with the fuzz input (types as the binding's)."""

    def __init__(self, data: bytes) -> None:
        parts = data.split(b"\x00")
        self.lanaddr = text_of(parts[0])
        self._external = text_of(parts[1]) if len(parts) > 1 else None
        self._internal = text_of(parts[2]) if len(parts) > 2 else ""
        self._port = int.from_bytes(data[-2:], "big") if len(data) >= 2 else 0

    def externalipaddress(self) -> str | None:
        return self._external

    def getspecificportmapping(self, port: int, proto: str) -> tuple[Any, ...] | None:
        if not self._internal:
            return None
        return (self._internal, self._port, "desc", True, 3600)

    def addportmapping(self, *args: object) -> bool:
        return bool(self._port & 1)

    def deleteportmapping(self, *args: object) -> bool:
        raise Exception("NoSuchEntryInArray")  # what the binding raises: a bare Exception


@target("upnp")
def upnp(data: bytes) -> None:
    gateway = Gateway(_HostileUpnp(data), "http://192.0.2.1/ctl")
    for allow_private in (False, True):
        external = decodes(gateway.external_ip)
        if external is not None:
            decodes(check_external_ip, external, allow_private)
    found = gateway.lookup(4001)
    assert found is None or isinstance(found[1], int)
    decodes(gateway.add, 4001, 4001, 3600, "p2pstack")
    decodes(gateway.delete, 4001)


_METRICS_REGISTRY = CollectorRegistry()
Counter("fuzz_requests", "a metric for the scrape answers to carry", registry=_METRICS_REGISTRY)


@target("metrics_http")
def metrics_http(data: bytes) -> None:
    """Any request head gets an HTTP answer (never an exception) from the metrics endpoint."""
    response = answer(_METRICS_REGISTRY, data)
    assert response.startswith(b"HTTP/1.1 "), response[:40]
