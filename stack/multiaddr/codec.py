"""Multiaddr transcoders: string form <-> binary form, one :class:`Component` at a time.

Pure functions. Every malformed input raises :class:`~p2pstack.errors.MultiaddrError` with a
message naming the offending component; nothing else escapes (except ``TypeError`` for
arguments of the wrong type).
"""

from __future__ import annotations

import base64
import ipaddress
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, NamedTuple

import base58

from p2pstack.errors import MultiaddrError
from p2pstack.identity.peer_id import PeerId
from p2pstack.multiaddr import protocols as p
from p2pstack.multiaddr.protocols import Protocol, protocol_by_code, protocol_by_name
from p2pstack.varint import decode_uvarint, encode_uvarint

MAX_BINARY_SIZE: Final = 1024
"""Largest binary multiaddr accepted (bytes); real addresses are well under 200."""
MAX_STRING_SIZE: Final = 8192
"""Largest string multiaddr accepted (characters); covers the string form of any
:data:`MAX_BINARY_SIZE` binary multiaddr."""


class _Transcoder(NamedTuple):
    what: str
    to_bytes: Callable[[str], bytes]
    to_string: Callable[[bytes], str]


def _ip4_to_bytes(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def _ip4_to_string(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


def _ip6_to_bytes(text: str) -> bytes:
    if "%" in text:
        raise ValueError("zones belong in a /ip6zone component")
    return ipaddress.IPv6Address(text).packed


def _ip6_to_string(raw: bytes) -> str:
    addr = ipaddress.IPv6Address(raw)
    mapped = addr.ipv4_mapped
    return f"::ffff:{mapped}" if mapped is not None else str(addr)


_DIGITS = re.compile(r"[0-9]{1,20}")


def _uint_transcoder(what: str, size: int) -> _Transcoder:
    limit = (1 << (8 * size)) - 1

    def to_bytes(text: str) -> bytes:
        if not _DIGITS.fullmatch(text) or int(text) > limit:
            raise ValueError(f"must be a decimal number from 0 to {limit}")
        return int(text).to_bytes(size, "big")

    def to_string(raw: bytes) -> str:
        return str(int.from_bytes(raw, "big"))

    return _Transcoder(what, to_bytes, to_string)


def _name_to_bytes(text: str) -> bytes:
    if not text:
        raise ValueError("must not be empty")
    if "/" in text:
        raise ValueError("must not contain '/'")
    return text.encode("utf-8")


def _name_to_string(raw: bytes) -> str:
    text = raw.decode("utf-8")
    _name_to_bytes(text)
    return text


def _p2p_to_bytes(text: str) -> bytes:
    return PeerId.from_string(text).multihash


def _p2p_to_string(raw: bytes) -> str:
    return PeerId.from_bytes(raw).to_base58()


def _check_multihash(raw: bytes) -> bytes:
    head = decode_uvarint(raw)
    length = decode_uvarint(raw, head[1]) if head is not None else None
    if length is None or len(raw) - length[1] != length[0]:
        raise ValueError("not a well-formed multihash")
    return raw


def _pad(text: str, block: int) -> str:
    return text + "=" * (-len(text) % block)


_MULTIBASE: Final[dict[str, tuple[re.Pattern[str], Callable[[str], bytes]]]] = {
    "u": (re.compile(r"[A-Za-z0-9_-]*"), lambda s: base64.urlsafe_b64decode(_pad(s, 4))),
    "U": (re.compile(r"[A-Za-z0-9_-]*={0,2}"), base64.urlsafe_b64decode),
    "m": (re.compile(r"[A-Za-z0-9+/]*"), lambda s: base64.b64decode(_pad(s, 4))),
    "M": (re.compile(r"[A-Za-z0-9+/]*={0,2}"), base64.b64decode),
    "b": (re.compile(r"[a-z2-7]*"), lambda s: base64.b32decode(_pad(s.upper(), 8))),
    "B": (re.compile(r"[A-Z2-7]*"), lambda s: base64.b32decode(_pad(s, 8))),
    "z": (re.compile(r"[1-9A-HJ-NP-Za-km-z]*"), base58.b58decode),
    "f": (re.compile(r"(?:[0-9a-f]{2})*"), bytes.fromhex),
    "F": (re.compile(r"(?:[0-9A-F]{2})*"), bytes.fromhex),
}


def _certhash_to_bytes(text: str) -> bytes:
    entry = _MULTIBASE.get(text[:1])
    if entry is None:
        raise ValueError("unsupported or missing multibase prefix")
    pattern, decode = entry
    if not pattern.fullmatch(text[1:]):
        raise ValueError(f"invalid characters for multibase {text[0]!r}")
    return _check_multihash(decode(text[1:]))


def _certhash_to_string(raw: bytes) -> str:
    _check_multihash(raw)
    return "u" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


_PCT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PATH_SAFE: Final = "$&+:=@"
"""Besides ``A-Za-z0-9-_.~``, the characters Go's ``url.PathEscape`` leaves unescaped."""


def _http_path_to_bytes(text: str) -> bytes:
    if _PCT_ESCAPE.search(text):
        raise ValueError("'%' must start a two-digit hex escape")
    raw = urllib.parse.unquote_to_bytes(text)
    if not raw:
        raise ValueError("must not be empty")
    return raw


def _http_path_to_string(raw: bytes) -> str:
    if not raw:
        raise ValueError("must not be empty")
    return urllib.parse.quote(raw, safe=_PATH_SAFE)


_IP4: Final = _Transcoder("ip4 address", _ip4_to_bytes, _ip4_to_string)
_IP6: Final = _Transcoder("ip6 address", _ip6_to_bytes, _ip6_to_string)
_PORT: Final = _uint_transcoder("port", 2)
_TRANSCODERS: Final[dict[Protocol, _Transcoder]] = {
    p.IP4: _IP4,
    p.IP6: _IP6,
    p.TCP: _PORT,
    p.UDP: _PORT,
    p.MEMORY: _uint_transcoder("memory id", 8),
    p.P2P: _Transcoder("peer id", _p2p_to_bytes, _p2p_to_string),
    p.CERTHASH: _Transcoder("certhash", _certhash_to_bytes, _certhash_to_string),
    p.HTTP_PATH: _Transcoder("http path", _http_path_to_bytes, _http_path_to_string),
} | {
    proto: _Transcoder(f"{proto.name} name", _name_to_bytes, _name_to_string)
    for proto in (p.IP6ZONE, p.DNS, p.DNS4, p.DNS6, p.DNSADDR, p.SNI)
}


@dataclass(frozen=True, slots=True)
class Component:
    """One ``/<protocol>[/<value>]`` element of a multiaddr.

    ``value`` is the canonical string value (``None`` for protocols without one); ``raw`` is
    the binary value without its length prefix. Construct directly (``Component(TCP, "80")``,
    the value is validated and canonicalised) or with :meth:`parse` from a protocol name.

    Raises:
        MultiaddrError: the value is missing, superfluous or malformed.
    """

    protocol: Protocol
    value: str | None = None
    raw: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"/{self.protocol.name}" + ("" if self.value is None else f"/{self.value}")
        if not self.protocol.has_value:
            if self.value is not None:
                raise MultiaddrError(f"protocol {self.protocol.name} takes no value in {where}")
            object.__setattr__(self, "raw", b"")
            return
        if self.value is None:
            raise MultiaddrError(f"missing value for {self.protocol.name} in {where}")
        raw = _value_to_bytes(self.protocol, self.value, where)
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "value", _value_to_string(self.protocol, raw, where))

    @classmethod
    def parse(cls, name: str, value: str | None = None) -> Component:
        """Build a component from a protocol name (aliases accepted) and string value."""
        return cls(protocol_by_name(name), value)

    @property
    def name(self) -> str:
        """The canonical protocol name."""
        return self.protocol.name

    @property
    def code(self) -> int:
        """The protocol's multicodec code."""
        return self.protocol.code

    def to_bytes(self) -> bytes:
        """The binary form: ``uvarint(code) [|| uvarint(len)] || raw``."""
        prefix = encode_uvarint(self.protocol.code)
        if self.protocol.size == p.SIZE_VARIABLE:
            prefix += encode_uvarint(len(self.raw))
        return prefix + self.raw

    def __str__(self) -> str:
        if self.value is None:
            return f"/{self.protocol.name}"
        return f"/{self.protocol.name}/{self.value}"


def _trusted_component(protocol: Protocol, value: str | None, raw: bytes) -> Component:
    comp = object.__new__(Component)
    object.__setattr__(comp, "protocol", protocol)
    object.__setattr__(comp, "value", value)
    object.__setattr__(comp, "raw", raw)
    return comp


def _value_to_bytes(protocol: Protocol, value: str, where: str) -> bytes:
    transcoder = _TRANSCODERS[protocol]
    try:
        raw = transcoder.to_bytes(value)
    except ValueError as exc:
        raise MultiaddrError(f"invalid {transcoder.what} {value!r} in {where}: {exc}") from exc
    if protocol.size > 0 and len(raw) * 8 != protocol.size:  # defensive: transcoders fix sizes
        raise MultiaddrError(f"invalid {transcoder.what} {value!r} in {where}")
    return raw


def _value_to_string(protocol: Protocol, raw: bytes, where: str) -> str:
    transcoder = _TRANSCODERS[protocol]
    try:
        return transcoder.to_string(raw)
    except ValueError as exc:
        raise MultiaddrError(f"invalid {transcoder.what} {raw!r} in {where}: {exc}") from exc


def parse_string(text: str) -> tuple[Component, ...]:
    """Parse the string form. ``""`` and ``"/"`` are the empty multiaddr.

    One trailing ``/`` is tolerated; ``/ipfs/`` is read as ``/p2p/``.

    Raises:
        MultiaddrError: malformed text, unknown protocol, bad value or over the size limits.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    if len(text) > MAX_STRING_SIZE:
        raise MultiaddrError(f"multiaddr string of {len(text)} characters is too long")
    shown = text if len(text) <= 200 else text[:200] + "..."
    shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
    if text in ("", "/"):
        return ()
    if not text.startswith("/"):
        raise MultiaddrError(f"multiaddr {shown!r} must start with '/'")
    parts = text[1:].removesuffix("/").split("/")
    components: list[Component] = []
    i = 0
    while i < len(parts):
        name = parts[i]
        if not name:
            raise MultiaddrError(f"empty protocol name in {shown}")
        try:
            protocol = protocol_by_name(name)
        except MultiaddrError:
            raise MultiaddrError(f"unknown protocol {name!r} in {shown}") from None
        if not protocol.has_value:
            components.append(_trusted_component(protocol, None, b""))
            i += 1
            continue
        if i + 1 >= len(parts):
            raise MultiaddrError(f"missing value for {protocol.name} in {shown}")
        raw = _value_to_bytes(protocol, parts[i + 1], shown)
        value = _value_to_string(protocol, raw, shown)
        components.append(_trusted_component(protocol, value, raw))
        i += 2
    _check_binary_size(components)
    return tuple(components)


def parse_bytes(data: bytes | bytearray | memoryview) -> tuple[Component, ...]:
    """Parse the binary form. ``b""`` is the empty multiaddr.

    Raises:
        MultiaddrError: truncated or malformed bytes, unknown code, bad value, too long.
    """
    data = bytes(data)
    if len(data) > MAX_BINARY_SIZE:
        raise MultiaddrError(f"binary multiaddr of {len(data)} bytes exceeds {MAX_BINARY_SIZE}")
    components: list[Component] = []
    pos = 0
    while pos < len(data):
        index = len(components)
        code, pos = _read_varint(data, pos, f"protocol code of component {index}")
        try:
            protocol = protocol_by_code(code)
        except MultiaddrError:
            raise MultiaddrError(
                f"unknown protocol code 0x{code:x} in component {index} of binary multiaddr"
            ) from None
        where = f"component {index} ({protocol.name}) of binary multiaddr"
        if protocol.size == p.SIZE_VARIABLE:
            size, pos = _read_varint(data, pos, f"value length of {where}")
        else:
            size = protocol.size // 8
        if len(data) - pos < size:
            raise MultiaddrError(f"truncated value in {where}")
        raw = data[pos : pos + size]
        pos += size
        if not protocol.has_value:
            components.append(_trusted_component(protocol, None, b""))
        else:
            value = _value_to_string(protocol, raw, where)
            components.append(_trusted_component(protocol, value, raw))
    return tuple(components)


def _read_varint(data: bytes, pos: int, what: str) -> tuple[int, int]:
    try:
        head = decode_uvarint(data, pos)
    except ValueError as exc:
        raise MultiaddrError(f"malformed varint in {what}: {exc}") from exc
    if head is None:
        raise MultiaddrError(f"truncated varint in {what}")
    return head


def components_to_bytes(components: Iterable[Component]) -> bytes:
    """Concatenate the binary forms. Raises :class:`MultiaddrError` over the size limit."""
    data = b"".join(c.to_bytes() for c in components)
    if len(data) > MAX_BINARY_SIZE:
        raise MultiaddrError(f"binary multiaddr of {len(data)} bytes exceeds {MAX_BINARY_SIZE}")
    return data


def components_to_string(components: Iterable[Component]) -> str:
    """Concatenate the string forms (``""`` for no components)."""
    return "".join(str(c) for c in components)


def _check_binary_size(components: list[Component]) -> None:
    components_to_bytes(components)
