"""Pure building and parsing of the presence payload: ``<p2p/>``, ``<e2e/>``, caps ``<c/>``
and our ``<relay/>`` extension.

We emit the ``urn:nf:iot:*:1.0`` namespaces (what deployed peers understand) and accept the
``urn:nf``, ``urn:nfi`` and ``urn:ieee`` variants on input. Everything a remote peer sent is
validated here: ports 1..65535, IP literals (stored in canonical text form), and an Ed25519 key
of exactly 32 bytes. Anything invalid makes the whole element count as absent.

``<relay xmlns="urn:p2pstack:relay:1" addr="<relay addr>/p2p/<relay id>/p2p-circuit"/>`` (zero
or more; other clients ignore the unknown element) names a relay through which the peer can be
reached when it is not directly reachable. Each must be a multiaddr naming the relay's peer id
before its final ``/p2p-circuit``, at most :data:`MAX_RELAY_ADDR_LEN` characters; at most
:data:`MAX_RELAYS` are kept, invalid ones are dropped one by one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from xml.etree import ElementTree as ET

from p2pstack.errors import DecodeError, MultiaddrError
from p2pstack.identity import Ed25519PublicKey, PeerId
from p2pstack.multiaddr import Multiaddr

P2P_NS: Final = "urn:nf:iot:p2p:1.0"
E2E_NS: Final = "urn:nf:iot:e2e:1.0"
P2P_NAMESPACES: Final = ("urn:nf:iot:p2p:1.0", "urn:nfi:iot:p2p:1.0", "urn:ieee:iot:p2p:1.0")
E2E_NAMESPACES: Final = ("urn:nf:iot:e2e:1.0", "urn:nfi:iot:e2e:1.0", "urn:ieee:iot:e2e:1.0")
RELAY_NS: Final = "urn:p2pstack:relay:1"
MAX_RELAYS: Final = 8
MAX_RELAY_ADDR_LEN: Final = 512
CAPS_NS: Final = "http://jabber.org/protocol/caps"
DISCO_INFO_NS: Final = "http://jabber.org/protocol/disco#info"
CAPS_NODE: Final = "https://github.com/p2pstack/p2pstack"
ED25519_KEY_LEN: Final = 32
FEATURES: Final = (CAPS_NS, DISCO_INFO_NS, P2P_NS, E2E_NS, RELAY_NS)
IDENTITY: Final = ("client", "bot", "", "p2pstack")


class PresencePayloadError(DecodeError):
    """A ``<p2p/>`` or ``<e2e/>`` element is malformed."""


def canonical_ip(text: str) -> str:
    """The canonical text of an IP literal: IPv4-mapped IPv6 becomes IPv4, zones are dropped.

    Raises:
        PresencePayloadError: ``text`` is not an IP literal.
    """
    try:
        ip = ipaddress.ip_address(text.strip().partition("%")[0])
    except ValueError as exc:
        raise PresencePayloadError(f"not an IP address: {text[:64]!r}") from exc
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _port(text: str | None, name: str) -> int:
    if text is None:
        raise PresencePayloadError(f"missing {name}")
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        raise PresencePayloadError(f"{name} is not a port number: {text[:16]!r}")
    value = int(text)
    if not 1 <= value <= 65535:
        raise PresencePayloadError(f"{name} {value} is outside 1..65535")
    return value


@dataclass(frozen=True, slots=True)
class P2PInfo:
    """The four values of ``<p2p/>``: external and local address of a peer's listener."""

    ext_ip: str
    ext_port: int
    loc_ip: str
    loc_port: int

    def __post_init__(self) -> None:
        for name in ("ext_ip", "loc_ip"):
            object.__setattr__(self, name, canonical_ip(getattr(self, name)))
        for name in ("ext_port", "loc_port"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 65535:
                raise PresencePayloadError(f"{name} {value!r} is outside 1..65535")

    def ips(self) -> frozenset[str]:
        return frozenset((self.ext_ip, self.loc_ip))


@dataclass(frozen=True, slots=True)
class PresencePayload:
    """What an available presence carried for us; ``errors`` says why parts were dropped."""

    p2p: P2PInfo | None = None
    ed25519: bytes | None = None
    caps_features_ver: str | None = None
    errors: tuple[str, ...] = ()
    relays: tuple[Multiaddr, ...] = ()
    """Relayed addresses (``.../p2p/<relay>/p2p-circuit``, without the peer's own id)."""

    @property
    def peer_id(self) -> PeerId | None:
        """The libp2p peer id of the published Ed25519 key."""
        if self.ed25519 is None:
            return None
        return peer_id_of(self.ed25519)


def peer_id_of(ed25519_raw: bytes) -> PeerId:
    """The libp2p peer id of a raw 32-byte Ed25519 public key."""
    return Ed25519PublicKey.from_raw(ed25519_raw).to_peer_id()


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def parse_p2p(element: ET.Element) -> P2PInfo:
    """Parse a ``<p2p/>`` element of any accepted namespace. Raises PresencePayloadError."""
    ns, name = _local(element.tag)
    if name != "p2p" or ns not in P2P_NAMESPACES:
        raise PresencePayloadError(f"not a p2p element: {element.tag[:80]!r}")
    values = {}
    for attr in ("extIp", "locIp"):
        text = element.get(attr)
        if text is None:
            raise PresencePayloadError(f"missing {attr}")
        values[attr] = canonical_ip(text)
    return P2PInfo(
        ext_ip=values["extIp"],
        ext_port=_port(element.get("extPort"), "extPort"),
        loc_ip=values["locIp"],
        loc_port=_port(element.get("locPort"), "locPort"),
    )


def parse_e2e(element: ET.Element) -> bytes | None:
    """The raw Ed25519 key of an ``<e2e/>`` element, or None when it has none.

    Raises:
        PresencePayloadError: the ``<ed25519 pub=.../>`` child is malformed.
    """
    ns, name = _local(element.tag)
    if name != "e2e" or ns not in E2E_NAMESPACES:
        raise PresencePayloadError(f"not an e2e element: {element.tag[:80]!r}")
    found = [c for c in element if _local(c.tag) == (ns, "ed25519")]
    if not found:
        return None
    if len(found) > 1:
        raise PresencePayloadError("more than one ed25519 key")
    text = found[0].get("pub")
    if text is None:
        raise PresencePayloadError("ed25519 element without pub")
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PresencePayloadError("ed25519 pub is not base64") from exc
    if len(raw) != ED25519_KEY_LEN:
        raise PresencePayloadError(f"ed25519 key of {len(raw)} bytes, expected 32")
    try:
        Ed25519PublicKey.from_raw(raw)
    except Exception as exc:  # cryptography refuses some encodings
        raise PresencePayloadError("ed25519 pub is not a valid public key") from exc
    return raw


def parse_relay(element: ET.Element) -> Multiaddr:
    """The relayed address of a ``<relay/>`` element. Raises PresencePayloadError."""
    text = element.get("addr")
    if text is None:
        raise PresencePayloadError("relay element without addr")
    if len(text) > MAX_RELAY_ADDR_LEN:
        raise PresencePayloadError(f"relay addr of {len(text)} characters")
    try:
        addr = Multiaddr(text.strip())
    except MultiaddrError as exc:
        raise PresencePayloadError(f"relay addr is not a multiaddr: {exc}") from exc
    comps = addr.components()
    if len(comps) < 2 or comps[-1].name != "p2p-circuit" or comps[-2].name != "p2p":
        raise PresencePayloadError(f"relay addr {text[:80]!r} is not <relay>/p2p/<id>/p2p-circuit")
    if any(c.name == "p2p-circuit" for c in comps[:-1]):
        raise PresencePayloadError("relay addr goes through more than one relay")
    return addr


def relayed(addrs: Iterable[Multiaddr]) -> tuple[Multiaddr, ...]:
    """The relayed addresses among ``addrs`` as ``<relay>/p2p/<id>/p2p-circuit`` (what
    ``<relay/>`` carries), at most :data:`MAX_RELAYS`."""
    out: list[Multiaddr] = []
    for addr in addrs:
        if not addr.has_protocol("p2p-circuit"):
            continue
        relay_part = addr.decapsulate("p2p-circuit")  # drops our own /p2p/<id> too
        if relay_part.peer_id() is None or relay_part.has_protocol("p2p-circuit"):
            continue
        plain = relay_part.encapsulate("/p2p-circuit")
        if plain not in out and len(out) < MAX_RELAYS:
            out.append(plain)
    return tuple(out)


def parse_presence(children: Iterable[ET.Element]) -> PresencePayload:
    """Extract the P2P payload from the children of an available ``<presence/>``.

    Never raises: malformed parts are dropped and explained in ``errors``.
    """
    p2p: P2PInfo | None = None
    key: bytes | None = None
    caps: str | None = None
    relays: list[Multiaddr] = []
    errors: list[str] = []
    for child in children:
        ns, name = _local(child.tag)
        try:
            if name == "p2p" and ns in P2P_NAMESPACES:
                if p2p is not None:
                    raise PresencePayloadError("more than one p2p element")
                p2p = parse_p2p(child)
            elif name == "e2e" and ns in E2E_NAMESPACES:
                if key is not None:
                    raise PresencePayloadError("more than one e2e element with a key")
                key = parse_e2e(child)
            elif name == "c" and ns == CAPS_NS:
                caps = child.get("ver")
            elif name == "relay" and ns == RELAY_NS:
                if len(relays) >= MAX_RELAYS:
                    raise PresencePayloadError(f"more than {MAX_RELAYS} relays")
                addr = parse_relay(child)
                if addr not in relays:
                    relays.append(addr)
        except PresencePayloadError as exc:
            errors.append(f"{name}: {exc}")
    if any(e.startswith("p2p:") for e in errors):
        p2p = None
    if any(e.startswith("e2e:") for e in errors):
        key = None
    return PresencePayload(
        p2p=p2p, ed25519=key, caps_features_ver=caps, errors=tuple(errors), relays=tuple(relays)
    )


def build_p2p(info: P2PInfo, namespace: str = P2P_NS) -> ET.Element:
    """``<p2p xmlns=... extIp extPort locIp locPort/>``."""
    return ET.Element(
        f"{{{namespace}}}p2p",
        {
            "extIp": info.ext_ip,
            "extPort": str(info.ext_port),
            "locIp": info.loc_ip,
            "locPort": str(info.loc_port),
        },
    )


def build_e2e(ed25519_raw: bytes, namespace: str = E2E_NS) -> ET.Element:
    """``<e2e xmlns=...><ed25519 pub=.../></e2e>`` for a raw 32-byte key."""
    if len(ed25519_raw) != ED25519_KEY_LEN:
        raise PresencePayloadError(f"ed25519 key of {len(ed25519_raw)} bytes, expected 32")
    e2e = ET.Element(f"{{{namespace}}}e2e")
    ET.SubElement(e2e, f"{{{namespace}}}ed25519", {"pub": base64.b64encode(ed25519_raw).decode()})
    return e2e


def caps_ver(
    identities: Sequence[tuple[str, str, str, str]], features: Iterable[str], hash_name: str
) -> str:
    """The XEP-0115 verification string (no extended forms) with ``hash_name``."""
    text = "".join(f"{c}/{t}/{lang}/{name}<" for c, t, lang, name in sorted(identities))
    text += "".join(f"{f}<" for f in sorted(set(features)))
    return base64.b64encode(hashlib.new(hash_name, text.encode()).digest()).decode()


def build_caps(
    node: str = CAPS_NODE,
    identities: Sequence[tuple[str, str, str, str]] = (IDENTITY,),
    features: Iterable[str] = FEATURES,
) -> ET.Element:
    """XEP-0115 ``<c hash="sha-256" node=... ver=.../>`` advertising ``features``."""
    ver = caps_ver(identities, features, "sha256")
    return ET.Element(f"{{{CAPS_NS}}}c", {"hash": "sha-256", "node": node, "ver": ver})


def build_relay(addr: Multiaddr) -> ET.Element:
    """``<relay xmlns=urn:p2pstack:relay:1 addr=.../>`` for ``<relay>/p2p/<id>/p2p-circuit``."""
    return ET.Element(f"{{{RELAY_NS}}}relay", {"addr": str(addr)})


def build_payload(
    p2p: P2PInfo | None, ed25519_raw: bytes, relays: Sequence[Multiaddr] = ()
) -> list[ET.Element]:
    """The children of our available presence: ``<e2e/>``, ``<p2p/>`` (if known), one
    ``<relay/>`` per relayed address, ``<c/>``."""
    out = [build_e2e(ed25519_raw)]
    if p2p is not None:
        out.append(build_p2p(p2p))
    out.extend(build_relay(addr) for addr in relays)
    out.append(build_caps())
    return out
