"""multistream-select message framing: wire.md section 4 vectors and malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from p2pstack.errors import InvalidConfigError, MessageTooLarge, MultistreamError, VarintError
from p2pstack.multistream.messages import (
    MAX_LS_PROTOCOLS,
    MAX_LS_RESPONSE_SIZE,
    MAX_MESSAGE_SIZE,
    decode_ls_response,
    decode_text,
    encode_ls_response,
    encode_message,
    parse_message,
)

VECTORS = [
    ("/multistream/1.0.0", "13 2f6d756c746973747265616d2f312e302e30 0a"),
    ("/noise", "07 2f6e6f697365 0a"),
    ("/yamux/1.0.0", "0d 2f79616d75782f312e302e30 0a"),
    ("na", "03 6e61 0a"),
    ("ls", "03 6c73 0a"),
    ("/ipfs/id/1.0.0", "0f 2f697066732f69642f312e302e30 0a"),
]


@pytest.mark.parametrize(("text", "hexbytes"), VECTORS)
def test_vectors_encode(text: str, hexbytes: str) -> None:
    assert encode_message(text) == bytes.fromhex(hexbytes)


@pytest.mark.parametrize(("text", "hexbytes"), VECTORS)
def test_vectors_parse_whole_bytewise_and_with_trailing(text: str, hexbytes: str) -> None:
    wire = bytes.fromhex(hexbytes)
    assert parse_message(wire) == (text.encode(), len(wire))
    for cut in range(len(wire)):
        assert parse_message(wire[:cut]) is None
    assert parse_message(wire + b"\xff garbage") == (text.encode(), len(wire))
    assert parse_message(b"xx" + wire, 2) == (text.encode(), len(wire) + 2)


@pytest.mark.parametrize(
    "bad", ["", "noslash", "/with\nnewline", "/" + "x" * MAX_MESSAGE_SIZE, "/\ud800", 5]
)
def test_encode_rejects_invalid_ids(bad: object) -> None:
    with pytest.raises(InvalidConfigError):
        encode_message(bad)  # type: ignore[arg-type]


def test_largest_message_round_trips() -> None:
    text = "/" + "x" * (MAX_MESSAGE_SIZE - 2)
    wire = encode_message(text)
    assert parse_message(wire) == (text.encode(), len(wire))


def test_oversized_rejected_from_the_prefix_alone() -> None:
    prefix = bytes.fromhex("8108")  # 1025
    with pytest.raises(MessageTooLarge):
        parse_message(prefix)
    assert parse_message(bytes.fromhex("8008")) is None  # 1024: wait for the body
    with pytest.raises(MessageTooLarge):
        parse_message(bytes.fromhex("ffffffff0f"))


def test_malformed_frames() -> None:
    with pytest.raises(MultistreamError, match="newline"):
        parse_message(b"\x03abc")
    with pytest.raises(MultistreamError, match="empty"):
        parse_message(b"\x00")
    with pytest.raises(VarintError):
        parse_message(b"\x81\x00")
    with pytest.raises(MultistreamError, match="UTF-8"):
        decode_text(b"\xff\xfe")


def test_ls_response_format() -> None:
    wire = encode_ls_response(["/a", "/bb"])
    inner = encode_message("/a") + encode_message("/bb")
    assert wire == bytes((len(inner) + 1,)) + inner + b"\n"
    payload, end = parse_message(wire, 0, MAX_LS_RESPONSE_SIZE) or (b"", 0)
    assert end == len(wire)
    assert decode_ls_response(payload) == ["/a", "/bb"]
    assert encode_ls_response([]) == b"\x01\n"
    assert decode_ls_response(b"") == []


def test_ls_response_is_capped() -> None:
    many = [f"/p/{i:04d}" for i in range(MAX_LS_PROTOCOLS + 50)]
    wire = encode_ls_response(many)
    payload, _ = parse_message(wire, 0, MAX_LS_RESPONSE_SIZE) or (b"", 0)
    assert decode_ls_response(payload) == many[:MAX_LS_PROTOCOLS]
    long_ids = ["/" + str(i) * 1000 for i in range(10) for _ in range(3)]
    wire = encode_ls_response(long_ids)
    assert len(wire) <= MAX_LS_RESPONSE_SIZE + 2
    payload, _ = parse_message(wire, 0, MAX_LS_RESPONSE_SIZE) or (b"", 0)
    assert decode_ls_response(payload) == long_ids[:16]


@pytest.mark.parametrize(
    "payload", [b"\x03/a", b"\x02a\n", b"\x05/a\n", b"\x00", b"\x03\xff\xfe\n"]
)
def test_ls_response_malformed(payload: bytes) -> None:
    with pytest.raises(MultistreamError):
        decode_ls_response(payload)


def test_ls_response_too_many_entries() -> None:
    payload = encode_message("/a") * (MAX_LS_PROTOCOLS + 1)
    with pytest.raises(MultistreamError, match="more than"):
        decode_ls_response(payload)


@given(st.binary(max_size=64), st.integers(0, 8))
def test_any_bytes_parse_or_raise_ours(data: bytes, offset: int) -> None:
    try:
        result = parse_message(data, min(offset, len(data)))
    except (MultistreamError, MessageTooLarge, VarintError):
        return
    if result is not None:
        payload, end = result
        assert data[end - 1 : end] == b"\n"
        assert payload in data


@given(st.binary(max_size=64))
def test_any_ls_payload_decodes_or_raises_ours(data: bytes) -> None:
    try:
        protocols = decode_ls_response(data)
    except (MultistreamError, MessageTooLarge, VarintError):
        return
    assert all(p.startswith("/") for p in protocols)
