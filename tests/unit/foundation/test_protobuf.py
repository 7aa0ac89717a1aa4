"""p2pstack.protobuf: the one place protobuf failures become our typed errors."""

from __future__ import annotations

import pytest

from p2pstack.errors import DecodeError, InvalidKeyError
from p2pstack.protobuf import parse_message, text, texts
from p2pstack.protocols.identify.pb.identify_pb2 import Identify
from p2pstack.protocols.relay.pb.circuit_pb2 import HopMessage


def test_parse_and_merge() -> None:
    first = Identify(agentVersion="a", protocols=["/x"]).SerializeToString()
    second = Identify(protocols=["/y"]).SerializeToString()
    merged = parse_message(Identify(), first, what="identify")
    parse_message(merged, memoryview(second), what="identify", merge=True)
    assert list(merged.protocols) == ["/x", "/y"]
    assert parse_message(Identify(), second, what="identify").agentVersion == ""


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a",  # truncated length-delimited field
        b"\x0a\x05ab",  # length past the end
        b"\x07",  # wire type 7 does not exist
        b"\x08" + b"\xff" * 11,  # a varint longer than 10 bytes
    ],
)
def test_malformed_bytes_raise_the_given_error(data: bytes) -> None:
    with pytest.raises(InvalidKeyError, match="malformed thing") as info:
        parse_message(HopMessage(), data, what="thing", error=InvalidKeyError)
    assert info.value.__cause__ is not None


def test_text_accepts_str_and_utf8_bytes() -> None:
    assert text("héllo", what="x") == "héllo"
    assert text("héllo".encode(), what="x") == "héllo"
    assert texts(["a", b"b"], what="x") == ["a", "b"]


def test_text_rejects_non_utf8_bytes() -> None:
    with pytest.raises(DecodeError, match="agent is not UTF-8"):
        text(b"\xff\xfe", what="agent")
    with pytest.raises(InvalidKeyError):
        texts(["ok", b"\x80"], what="x", error=InvalidKeyError)


def test_non_utf8_proto2_string_comes_back_as_bytes() -> None:
    """The upb behaviour this module exists for (if it changes, text() still holds)."""
    message = parse_message(Identify(), b"\x1a\x02\xff\xfe", what="identify")
    with pytest.raises(DecodeError):
        texts(message.protocols, what="protocol")
