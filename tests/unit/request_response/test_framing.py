"""The sans-IO framing: whole, byte by byte, with trailing garbage, and fuzzed."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from p2pstack.protocols.request_response import (
    REJECTION,
    BodyTooLarge,
    MalformedMessage,
    TrailingData,
    TruncatedMessage,
)
from p2pstack.protocols.request_response.framing import (
    FrameDecoder,
    FrameEvent,
    MessageReceived,
    RejectionReceived,
    StreamEnded,
    encode_message,
)
from p2pstack.varint import MAX_VARINT_LEN, encode_uvarint


def feed(decoder: FrameDecoder, data: bytes, step: int | None) -> list[FrameEvent]:
    events: list[FrameEvent] = []
    chunks = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    for chunk in chunks:
        events += decoder.receive_data(chunk)
    return events


@pytest.mark.parametrize("step", [None, 1, 3])
@pytest.mark.parametrize("body", [b"", b"x", bytes(range(256)) * 3])
def test_round_trip(body: bytes, step: int | None) -> None:
    decoder = FrameDecoder(1 << 20)
    assert feed(decoder, encode_message(body, 1 << 20), step) == [MessageReceived(body)]
    assert decoder.done
    assert decoder.receive_data(None) == []


def test_trailing_garbage_is_an_error() -> None:
    decoder = FrameDecoder(100)
    with pytest.raises(TrailingData):
        decoder.receive_data(encode_message(b"abc", 100) + b"junk")
    with pytest.raises(TrailingData):  # the decoder stays broken
        decoder.receive_data(None)


def test_bytes_after_a_complete_message_are_an_error() -> None:
    decoder = FrameDecoder(100)
    decoder.receive_data(encode_message(b"abc", 100))
    with pytest.raises(TrailingData):
        decoder.receive_data(b"x")


def test_oversize_prefix_fails_before_the_body() -> None:
    decoder = FrameDecoder(1000)
    with pytest.raises(BodyTooLarge) as info:
        decoder.receive_data(encode_uvarint(1001))
    assert info.value.remote


def test_encoding_oversize_is_a_local_error() -> None:
    with pytest.raises(BodyTooLarge) as info:
        encode_message(b"x" * 11, 10)
    assert not info.value.remote


def test_eof_before_a_message_and_inside_one() -> None:
    assert FrameDecoder(10).receive_data(None) == [StreamEnded()]
    decoder = FrameDecoder(10)
    decoder.receive_data(b"\x05ab")
    with pytest.raises(TruncatedMessage):
        decoder.receive_data(None)


@pytest.mark.parametrize("step", [None, 1])
def test_rejection_marker_only_where_accepted(step: int | None) -> None:
    assert feed(FrameDecoder(10, accept_rejection=True), REJECTION, step) == [RejectionReceived()]
    with pytest.raises(MalformedMessage):  # a non-minimal varint anywhere else
        feed(FrameDecoder(10), REJECTION, step)


def test_lone_continuation_byte_then_a_real_prefix() -> None:
    decoder = FrameDecoder(1000, accept_rejection=True)
    assert decoder.receive_data(b"\x80") == []
    assert decoder.receive_data(b"\x01") == []  # 128: a real length prefix
    assert decoder.wanted() == 128


def test_overlong_varint_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        FrameDecoder(1 << 62).receive_data(b"\xff" * 10)


@given(
    data=st.binary(max_size=300),
    max_size=st.integers(0, 64),
    accept=st.booleans(),
    cuts=st.lists(st.integers(1, 50), max_size=20),
)
def test_any_bytes_decode_or_raise_our_error(
    data: bytes, max_size: int, accept: bool, cuts: list[int]
) -> None:
    """A peer cannot crash the decoder nor make it hold more than the limit allows."""
    decoder = FrameDecoder(max_size, accept_rejection=accept)
    pos = 0
    try:
        for cut in [*cuts, len(data)]:
            if pos >= len(data):
                break
            size = min(cut, decoder.wanted())  # what the adapter would read
            decoder.receive_data(data[pos : pos + size])
            pos += size
            assert len(decoder._buffer) <= max_size + MAX_VARINT_LEN
        events = decoder.receive_data(None)
    except (BodyTooLarge, MalformedMessage):
        return
    for event in events:
        assert isinstance(event, StreamEnded)


@given(body=st.binary(max_size=200), accept=st.booleans())
def test_encode_decode_round_trip(body: bytes, accept: bool) -> None:
    decoder = FrameDecoder(200, accept_rejection=accept)
    assert decoder.receive_data(encode_message(body, 200)) == [MessageReceived(body)]
