"""QUIC's invariant long header and the Version Negotiation packet (RFC 8999, RFC 9000
section 17.2.1), byte by byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from p2pstack.transports.quic.packets import (
    LongHeader,
    MalformedLongHeader,
    encode_version_negotiation,
    parse_long_header,
)


def test_the_invariant_header_of_any_version_is_read() -> None:
    dcid, scid = bytes(range(30)), b"\x07" * 255  # longer than QUIC v1 allows
    packet = b"\xc3" + bytes.fromhex("1a2a3a4a") + b"\x1e" + dcid + b"\xff" + scid + bytes(9)
    assert parse_long_header(packet) == LongHeader(0x1A2A3A4A, dcid, scid)


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x40" + bytes(30),
        b"\xc0\x00\x00\x00\x01",
        b"\xc0" + bytes(4) + b"\x05abcd",
        b"\xc0" + bytes(4) + b"\x01a\x02b",
    ],
)
def test_truncated_or_short_headers_are_refused(packet: bytes) -> None:
    with pytest.raises(MalformedLongHeader):
        parse_long_header(packet)


def test_version_negotiation_layout() -> None:
    header = LongHeader(0x1A2A3A4A, b"\x01" * 12, b"\x02" * 5)
    packet = encode_version_negotiation(header, [0x00000001, 0xFF00001D], unused=0xFF)
    # Header Form 1, Unused 7 bits (here the fixed bit 0x40 and the 6 low bits we chose),
    # Version 0, DCID Len + DCID = the client's SCID, SCID Len + SCID = the client's DCID,
    # then the supported versions, 32 bits each.
    assert packet == (
        b"\xff"
        + b"\x00\x00\x00\x00"
        + b"\x05"
        + b"\x02" * 5
        + b"\x0c"
        + b"\x01" * 12
        + b"\x00\x00\x00\x01"
        + b"\xff\x00\x00\x1d"
    )
    assert encode_version_negotiation(header, [1], unused=0)[0] == 0xC0


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600))
def test_any_bytes_parse_or_are_refused(data: bytes) -> None:
    try:
        header = parse_long_header(data)
    except MalformedLongHeader:
        return
    assert data[0] & 0x80
    assert len(header.destination_cid) == data[5]
    answer = encode_version_negotiation(header, [1])
    assert parse_long_header(answer) == LongHeader(0, header.source_cid, header.destination_cid)
