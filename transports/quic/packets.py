"""QUIC's version-independent long header (RFC 8999) and the Version Negotiation packet
(RFC 9000 section 17.2.1), sans-IO.

A listener must read the connection ids of a long-header packet of any version (other
versions allow connection ids of up to 255 bytes) to answer it with Version Negotiation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from p2pstack.errors import DecodeError

LONG_HEADER_BIT: Final = 0x80
FIXED_BIT: Final = 0x40
NEGOTIATION_VERSION: Final = 0x00000000
"""The version field of a Version Negotiation packet."""


class MalformedLongHeader(DecodeError):
    """A long-header packet too short for its version and connection ids."""


@dataclass(frozen=True, slots=True)
class LongHeader:
    """The invariant fields of a long-header packet."""

    version: int
    destination_cid: bytes
    source_cid: bytes


def is_long_header(datagram: bytes) -> bool:
    """Whether ``datagram`` starts with a long-header packet."""
    return bool(datagram) and bool(datagram[0] & LONG_HEADER_BIT)


def parse_long_header(datagram: bytes) -> LongHeader:
    """The version and connection ids of the long-header packet ``datagram`` starts with.
    Raises MalformedLongHeader (also for a short header)."""
    if not is_long_header(datagram) or len(datagram) < 7:
        raise MalformedLongHeader("not a long-header packet")
    version = int.from_bytes(datagram[1:5], "big")
    dcid_end = 6 + datagram[5]
    if len(datagram) < dcid_end + 1:
        raise MalformedLongHeader("long header truncated in its destination connection id")
    scid_end = dcid_end + 1 + datagram[dcid_end]
    if len(datagram) < scid_end:
        raise MalformedLongHeader("long header truncated in its source connection id")
    return LongHeader(version, datagram[6:dcid_end], datagram[dcid_end + 1 : scid_end])


def encode_version_negotiation(
    header: LongHeader, versions: list[int], *, unused: int = 0
) -> bytes:
    """The Version Negotiation answer to the packet with ``header``: its connection ids
    swapped, then ``versions``. The first byte is the long-header bit, the fixed bit (set, as
    RFC 9000 recommends where QUIC shares a port) and the low 6 bits of ``unused``."""
    first = LONG_HEADER_BIT | FIXED_BIT | (unused & 0x3F)
    return (
        bytes((first,))
        + NEGOTIATION_VERSION.to_bytes(4, "big")
        + bytes((len(header.source_cid),))
        + header.source_cid
        + bytes((len(header.destination_cid),))
        + header.destination_cid
        + b"".join(v.to_bytes(4, "big") for v in versions)
    )
