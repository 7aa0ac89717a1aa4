from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from p2pstack.errors import MessageTooLarge, VarintError
from p2pstack.varint import (
    MAX_VARINT_VALUE,
    decode_uvarint,
    decode_uvarint_exact,
    encode_uvarint,
    length_prefixed,
    split_length_prefixed,
)

VECTORS = [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "8001"),
    (255, "ff01"),
    (300, "ac02"),
    (16384, "808001"),
]


@pytest.mark.parametrize(("value", "hexed"), VECTORS)
def test_spec_vectors(value: int, hexed: str) -> None:
    assert encode_uvarint(value).hex() == hexed
    assert decode_uvarint(bytes.fromhex(hexed)) == (value, len(hexed) // 2)


@given(st.integers(min_value=0, max_value=MAX_VARINT_VALUE))
def test_round_trip(value: int) -> None:
    data = encode_uvarint(value)
    assert len(data) <= 9
    assert decode_uvarint(data + b"\xff") == (value, len(data))


@pytest.mark.parametrize("bad", ["8100", "ff8000", "80808080808080808001"])
def test_rejects_non_minimal_and_long(bad: str) -> None:
    with pytest.raises(VarintError):
        decode_uvarint(bytes.fromhex(bad))


def test_truncated_is_none_or_error() -> None:
    assert decode_uvarint(b"\x80") is None
    with pytest.raises(VarintError):
        decode_uvarint_exact(b"\x80\x80")


def test_encode_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_uvarint(-1)
    with pytest.raises(ValueError, match="out of range"):
        encode_uvarint(1 << 63)


@given(st.binary(max_size=32))
def test_any_bytes_decode_or_raise_typed(data: bytes) -> None:
    try:
        result = decode_uvarint(data)
    except VarintError:
        return
    if result is not None:
        value, end = result
        assert encode_uvarint(value) == data[:end]


def test_length_prefixed_limits() -> None:
    framed = length_prefixed(b"hello") + b"rest"
    assert split_length_prefixed(framed, 10) == (b"hello", 6)
    assert split_length_prefixed(framed[:4], 10) is None
    with pytest.raises(MessageTooLarge):
        split_length_prefixed(encode_uvarint(1 << 40), 1024)


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=64))
def test_split_any_bytes(data: bytes, limit: int) -> None:
    try:
        result = split_length_prefixed(data, limit)
    except (VarintError, MessageTooLarge):
        return
    if result is not None:
        message, end = result
        assert len(message) <= limit
        assert length_prefixed(message) == data[:end]
