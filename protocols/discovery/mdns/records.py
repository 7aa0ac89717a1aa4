"""The libp2p mDNS records, pure: peer names, ``dnsaddr=`` TXT strings, their limits.

A peer advertises ``<peer-name>._p2p._udp.local`` with TXT character-strings
``dnsaddr=<multiaddr>/p2p/<peer id>`` (libp2p mDNS spec; wire.md §9). Everything here is
bytes in, values out: nothing touches the network, so all of it is fuzzed.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from p2pstack.errors import DecodeError, InvalidConfigError, MultiaddrError, PeerIdError
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr

SERVICE_TYPE: Final = "_p2p._udp.local."
"""The DNS-SD service type every libp2p implementation browses."""
HOST_DOMAIN: Final = "p2p.local."
"""Host names are ``<peer-name>.p2p.local.`` (spec)."""
DNSADDR_KEY: Final = b"dnsaddr"
MAX_STRING: Final = 255
"""A DNS character-string holds at most 255 bytes (its length is one byte)."""
PEER_NAME_MIN: Final = 32
PEER_NAME_MAX: Final = 63
"""Peer names are 32-63 random ``[a-z0-9]`` characters: one DNS label, never the peer id."""
PEER_NAME_ALPHABET: Final = string.ascii_lowercase + string.digits

# A key is "dnsaddr" (spec) or "dnsaddr<N>" (py-libp2p 0.8 writes its 2nd, 3rd... address
# under dnsaddr2, dnsaddr3... because zeroconf properties are a dict); DNS-SD keys are
# case-insensitive (RFC 6763 §6.4).
_KEY = re.compile(rb"dnsaddr[0-9]{0,3}", re.IGNORECASE)
_PEER_NAME = re.compile(rf"[a-z0-9]{{{PEER_NAME_MIN},{PEER_NAME_MAX}}}")


class TxtRecordError(DecodeError):
    """A TXT record or one of its ``dnsaddr=`` strings is malformed, inconsistent or hostile."""


# ----------------------------------------------------------------------------- names


def generate_peer_name(length: int | None = None) -> str:
    """A random peer name: ``length`` (default: random in 32-63) ``[a-z0-9]`` characters."""
    if length is None:
        length = PEER_NAME_MIN + secrets.randbelow(PEER_NAME_MAX - PEER_NAME_MIN + 1)
    if not PEER_NAME_MIN <= length <= PEER_NAME_MAX:
        raise InvalidConfigError(f"peer names are {PEER_NAME_MIN}-{PEER_NAME_MAX} characters")
    return "".join(secrets.choice(PEER_NAME_ALPHABET) for _ in range(length))


def validate_peer_name(name: str) -> str:
    """Return ``name`` if it is 32-63 lower-case alphanumerics, else raise InvalidConfigError."""
    if not _PEER_NAME.fullmatch(name):
        raise InvalidConfigError(
            f"an mDNS peer name is {PEER_NAME_MIN}-{PEER_NAME_MAX} characters of [a-z0-9]: {name!r}"
        )
    return name


def validate_service_type(service_type: str) -> str:
    """``_p2p._udp.local.`` or a private-network ``_p2p-<hex>._udp.local.``; else raise."""
    if not re.fullmatch(r"_p2p(-[0-9a-f]{1,56})?\._udp\.local\.", service_type):
        raise InvalidConfigError(f"not a libp2p mDNS service type: {service_type!r}")
    return service_type


def instance_name(peer_name: str, service_type: str = SERVICE_TYPE) -> str:
    """The DNS-SD instance ``<peer-name>.<service-type>``."""
    return f"{peer_name}.{service_type}"


def host_name(peer_name: str) -> str:
    """The SRV target ``<peer-name>.p2p.local.``."""
    return f"{peer_name}.{HOST_DOMAIN}"


def is_instance_of(name: str, service_type: str = SERVICE_TYPE) -> bool:
    """Whether ``name`` is ``<one label>.<service_type>`` (case-insensitive)."""
    suffix = "." + service_type.lower()
    lowered = name.lower()
    if not lowered.endswith(suffix):
        return False
    label = lowered[: -len(suffix)]
    return 0 < len(label) <= PEER_NAME_MAX and "." not in label


# ---------------------------------------------------------------------- advertising


def dnsaddr_string(addr: Multiaddr, peer: PeerId) -> bytes | None:
    """``dnsaddr=<addr>/p2p/<peer>`` as bytes, or None when it exceeds 255 bytes."""
    text = DNSADDR_KEY + b"=" + str(addr.with_peer_id(peer)).encode()
    return text if len(text) <= MAX_STRING else None


def is_loopback(addr: Multiaddr) -> bool:
    """Whether ``addr`` starts with a loopback ``/ip4`` or ``/ip6`` host."""
    comps = addr.components()
    if not comps or comps[0].name not in ("ip4", "ip6") or comps[0].value is None:
        return False
    return ipaddress.ip_address(comps[0].value).is_loopback


def is_advertisable(addr: Multiaddr) -> bool:
    """What mDNS may carry: no relayed or browser-only addresses, DNS names only ``.local``."""
    names = addr.protocols()
    if not names or "p2p-circuit" in names:
        return False
    if {"ws", "wss", "webrtc", "webrtc-direct", "webtransport"} & set(names):
        return False
    if names[0] in ("dns", "dns4", "dns6", "dnsaddr"):
        host = addr.components()[0].value or ""
        return host.lower().rstrip(".").endswith(".local")
    return names[0] in ("ip4", "ip6")


def order_addrs(addrs: Iterable[Multiaddr], *, loopback_first: bool = False) -> list[Multiaddr]:
    """``addrs`` deduplicated, non-loopback ones first (or last with ``loopback_first``).

    Peers that keep one address per TXT key (py-libp2p) or dial in order use the first one,
    so it should be the one a host on the link can reach.
    """
    unique = list(dict.fromkeys(addrs))
    return sorted(unique, key=lambda a: is_loopback(a) != loopback_first)


@dataclass(frozen=True, slots=True)
class TxtBuild:
    """The TXT rdata for a set of addresses and the addresses left out (too long, too many)."""

    rdata: bytes
    included: tuple[Multiaddr, ...]
    skipped: tuple[Multiaddr, ...]


def build_txt(addrs: Sequence[Multiaddr], peer: PeerId, *, max_bytes: int = 1300) -> TxtBuild:
    """One TXT rdata with a ``dnsaddr=`` string per address, in order.

    Addresses whose string exceeds 255 bytes, or that would push the rdata past
    ``max_bytes`` (it must fit one mDNS packet with the other records), are skipped.
    """
    out = bytearray()
    included: list[Multiaddr] = []
    skipped: list[Multiaddr] = []
    for addr in addrs:
        text = dnsaddr_string(addr, peer)
        if text is None or len(out) + 1 + len(text) > max_bytes:
            skipped.append(addr)
            continue
        out.append(len(text))
        out += text
        included.append(addr)
    return TxtBuild(bytes(out), tuple(included), tuple(skipped))


# -------------------------------------------------------------------------- parsing


def split_txt(rdata: bytes, *, max_strings: int = 64) -> list[bytes]:
    """The character-strings of one TXT rdata (each a length byte, then that many bytes).

    Raises:
        TxtRecordError: a string runs past the end, or there are more than ``max_strings``.
    """
    out: list[bytes] = []
    pos = 0
    while pos < len(rdata):
        length = rdata[pos]
        end = pos + 1 + length
        if end > len(rdata):
            raise TxtRecordError(f"TXT string of {length} bytes runs past the record's end")
        if len(out) == max_strings:
            raise TxtRecordError(f"more than {max_strings} strings in one TXT record")
        out.append(rdata[pos + 1 : end])
        pos = end
    return out


def dnsaddr_value(text: bytes) -> bytes | None:
    """The value of a ``dnsaddr=`` (or ``dnsaddr<N>=``) string; None for any other string."""
    key, sep, value = text.partition(b"=")
    return value if sep and _KEY.fullmatch(key) else None


def parse_dnsaddr(value: bytes) -> tuple[PeerId, Multiaddr]:
    """``<multiaddr>/p2p/<id>`` -> (peer id, address without ``/p2p``).

    Raises:
        TxtRecordError: not UTF-8, not a multiaddr, or no trailing peer id.
    """
    try:
        addr = Multiaddr(value.decode("utf-8"))
        peer = addr.peer_id()
    except UnicodeDecodeError as exc:
        raise TxtRecordError("dnsaddr value is not UTF-8") from exc
    except (MultiaddrError, PeerIdError) as exc:
        raise TxtRecordError(f"dnsaddr value is not a multiaddr: {exc}") from exc
    if peer is None:
        raise TxtRecordError(f"dnsaddr {addr} does not end in /p2p/<peer id>")
    bare = addr.without_peer_id()
    if not bare.components():
        raise TxtRecordError("dnsaddr has a peer id but no address")
    return peer, bare


@dataclass(frozen=True, slots=True)
class Announcement:
    """What one mDNS instance announced: a peer and its addresses (without ``/p2p``)."""

    peer_id: PeerId
    addrs: tuple[Multiaddr, ...]
    skipped: tuple[str, ...] = ()
    """Why individual strings were ignored (bad multiaddrs, over the address limit)."""


def parse_announcement(strings: Iterable[bytes], *, max_addrs: int = 16) -> Announcement | None:
    """The peer and addresses in the TXT strings of one instance.

    Strings that are not ``dnsaddr=`` are ignored. Bad ``dnsaddr`` strings are skipped and
    listed in :attr:`Announcement.skipped`; addresses beyond ``max_addrs`` too. Returns None
    when there is no ``dnsaddr`` string at all (not a libp2p record).

    Raises:
        TxtRecordError: every ``dnsaddr`` string is bad, or they name different peers
            (one instance is one peer; a mix is broken or hostile, so all of it is ignored).
    """
    peer: PeerId | None = None
    addrs: dict[Multiaddr, None] = {}
    skipped: list[str] = []
    seen = False
    for text in strings:
        value = dnsaddr_value(text)
        if value is None:
            continue
        seen = True
        try:
            got_peer, addr = parse_dnsaddr(value)
        except TxtRecordError as exc:
            skipped.append(str(exc))
            continue
        if peer is None:
            peer = got_peer
        elif got_peer != peer:
            raise TxtRecordError(f"one instance announces two peers: {peer} and {got_peer}")
        if addr in addrs:
            continue
        if len(addrs) >= max_addrs:
            skipped.append(f"more than {max_addrs} addresses")
            continue
        addrs[addr] = None
    if not seen:
        return None
    if peer is None:
        raise TxtRecordError(f"no valid dnsaddr string ({'; '.join(skipped[:3])})")
    return Announcement(peer, tuple(addrs), tuple(skipped))
