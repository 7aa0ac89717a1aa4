"""The Yamux header codec: vectors, round trips, and arbitrary bytes."""

from __future__ import annotations

import pytest
from hypothesis import example, given, strategies as st

from p2pstack.errors import DecodeError
from p2pstack.muxers.yamux.errors import FrameDecodeError, YamuxProtocolError
from p2pstack.muxers.yamux.frames import (
    HEADER_SIZE,
    MAX_U32,
    Flag,
    FrameType,
    Header,
    decode_header,
    encode_header,
)

VECTORS = [
    ("00 01 0001 00000001 00000000", Header(FrameType.WINDOW_UPDATE, Flag.SYN, 1, 0)),
    ("00 01 0002 00000001 00000000", Header(FrameType.WINDOW_UPDATE, Flag.ACK, 1, 0)),
    ("00 00 0000 00000001 00000005", Header(FrameType.DATA, Flag.NONE, 1, 5)),
    ("00 01 0004 00000001 00000000", Header(FrameType.WINDOW_UPDATE, Flag.FIN, 1, 0)),
    ("00 00 0004 00000001 00000000", Header(FrameType.DATA, Flag.FIN, 1, 0)),
    ("00 01 0008 00000001 00000000", Header(FrameType.WINDOW_UPDATE, Flag.RST, 1, 0)),
    ("00 02 0001 00000000 00000007", Header(FrameType.PING, Flag.SYN, 0, 7)),
    ("00 02 0002 00000000 00000007", Header(FrameType.PING, Flag.ACK, 0, 7)),
    ("00 03 0000 00000000 00000001", Header(FrameType.GO_AWAY, Flag.NONE, 0, 1)),
]


@pytest.mark.parametrize(("hexstr", "header"), VECTORS)
def test_vectors(hexstr: str, header: Header) -> None:
    raw = bytes.fromhex(hexstr.replace(" ", ""))
    assert encode_header(*header) == raw
    assert decode_header(raw) == header
    assert decode_header(b"junk" + raw + b"tail", 4) == header


@given(
    st.sampled_from(FrameType),
    st.integers(0, 0xFFFF),
    st.integers(0, MAX_U32),
    st.integers(0, MAX_U32),
)
def test_round_trip(ftype: FrameType, flags: int, sid: int, length: int) -> None:
    raw = encode_header(ftype, flags, sid, length)
    assert len(raw) == HEADER_SIZE
    assert decode_header(raw) == (ftype, flags, sid, length)


@pytest.mark.parametrize("args", [(0, 0x10000, 0, 0), (0, 0, MAX_U32 + 1, 0), (0, 0, 0, -1)])
def test_encode_rejects_out_of_range(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_header(FrameType(args[0]), args[1], args[2], args[3])


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\x01" + bytes(11), "version"),
        (b"\x00\x04" + bytes(10), "type"),
        (bytes(11), "truncated"),
        (b"", "truncated"),
    ],
)
def test_decode_errors(raw: bytes, match: str) -> None:
    with pytest.raises(FrameDecodeError, match=match) as info:
        decode_header(raw)
    assert isinstance(info.value, DecodeError)
    assert isinstance(info.value, YamuxProtocolError)
    assert info.value.remote


@given(st.binary(max_size=40))
@example(b"\x00\x03" + bytes(10))
def test_arbitrary_bytes_decode_or_raise_typed_error(raw: bytes) -> None:
    try:
        header = decode_header(raw)
    except FrameDecodeError:
        return
    assert encode_header(*header) == raw[:HEADER_SIZE]
