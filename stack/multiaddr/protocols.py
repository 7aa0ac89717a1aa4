"""The multiaddr protocol table: names, multicodec codes and value sizes.

Codes come from the multicodec table (see docs/wire.md section 2). Only the protocols p2pstack
parses and prints are listed; anything else is rejected as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from p2pstack.errors import MultiaddrError

SIZE_VARIABLE: Final = -1
"""Marks a protocol whose binary value is ``uvarint(len) || bytes``."""


@dataclass(frozen=True, slots=True)
class Protocol:
    """One multiaddr protocol.

    Attributes:
        name: the string-form name (``"tcp"``).
        code: the multicodec code (``6``).
        size: the binary value size in bits; 0 for no value, :data:`SIZE_VARIABLE` for
            length-prefixed values.
    """

    name: str
    code: int
    size: int

    @property
    def has_value(self) -> bool:
        """Whether the protocol carries a value (``/tcp/80``) or not (``/ws``)."""
        return self.size != 0


IP4: Final = Protocol("ip4", 0x04, 32)
TCP: Final = Protocol("tcp", 0x06, 16)
UDP: Final = Protocol("udp", 0x0111, 16)
IP6: Final = Protocol("ip6", 0x29, 128)
IP6ZONE: Final = Protocol("ip6zone", 0x2A, SIZE_VARIABLE)
DNS: Final = Protocol("dns", 0x35, SIZE_VARIABLE)
DNS4: Final = Protocol("dns4", 0x36, SIZE_VARIABLE)
DNS6: Final = Protocol("dns6", 0x37, SIZE_VARIABLE)
DNSADDR: Final = Protocol("dnsaddr", 0x38, SIZE_VARIABLE)
P2P: Final = Protocol("p2p", 0x01A5, SIZE_VARIABLE)
P2P_CIRCUIT: Final = Protocol("p2p-circuit", 0x0122, 0)
TLS: Final = Protocol("tls", 0x01C0, 0)
SNI: Final = Protocol("sni", 0x01C1, SIZE_VARIABLE)
NOISE: Final = Protocol("noise", 0x01C6, 0)
QUIC: Final = Protocol("quic", 0x01CC, 0)
QUIC_V1: Final = Protocol("quic-v1", 0x01CD, 0)
WEBTRANSPORT: Final = Protocol("webtransport", 0x01D1, 0)
CERTHASH: Final = Protocol("certhash", 0x01D2, SIZE_VARIABLE)
WS: Final = Protocol("ws", 0x01DD, 0)
WSS: Final = Protocol("wss", 0x01DE, 0)
HTTP: Final = Protocol("http", 0x01E0, 0)
HTTP_PATH: Final = Protocol("http-path", 0x01E1, SIZE_VARIABLE)
MEMORY: Final = Protocol("memory", 0x0309, 64)
"""In-process transport addresses (``/memory/<u64>``), as in go-multiaddr."""

PROTOCOLS: Final[tuple[Protocol, ...]] = (
    IP4,
    TCP,
    UDP,
    IP6,
    IP6ZONE,
    DNS,
    DNS4,
    DNS6,
    DNSADDR,
    P2P,
    P2P_CIRCUIT,
    TLS,
    SNI,
    NOISE,
    QUIC,
    QUIC_V1,
    WEBTRANSPORT,
    CERTHASH,
    WS,
    WSS,
    HTTP,
    HTTP_PATH,
    MEMORY,
)

ALIASES: Final[dict[str, Protocol]] = {"ipfs": P2P}
"""Names accepted on input only; output always uses the canonical name."""

_BY_NAME: Final[dict[str, Protocol]] = {p.name: p for p in PROTOCOLS} | ALIASES
_BY_CODE: Final[dict[int, Protocol]] = {p.code: p for p in PROTOCOLS}


def protocol_by_name(name: str) -> Protocol:
    """Look a protocol up by name or alias. Raises :class:`MultiaddrError` if unknown."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise MultiaddrError(f"unknown multiaddr protocol {name!r}") from None


def protocol_by_code(code: int) -> Protocol:
    """Look a protocol up by multicodec code. Raises :class:`MultiaddrError` if unknown."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise MultiaddrError(f"unknown multiaddr protocol code 0x{code:x}") from None
