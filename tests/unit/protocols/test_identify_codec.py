"""identify messages: encoding limits, merging, key checks, and hostile bytes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings, strategies as st

from p2pstack.errors import DecodeError
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.errors import IdentifyDecodeError, IdentifyError
from p2pstack.protocols.identify.codec import MAX_SEND_SIZE, decode_identify, encode_identify

ALICE = Identity.from_ed25519_seed(bytes(32))
BOB = Identity.from_ed25519_seed(bytes([1]) * 32)


def _message(identity: Identity, addrs: int = 2) -> bytes:
    return encode_identify(
        public_key=identity.public_key.to_protobuf(),
        listen_addrs=[Multiaddr(f"/ip4/10.0.0.{i % 250}/tcp/{4000 + i}") for i in range(addrs)],
        protocols=["/ipfs/ping/1.0.0", "/ipfs/id/1.0.0"],
        observed_addr=Multiaddr("/ip4/127.0.0.1/tcp/5555"),
        agent_version="p2pstack/test",
        protocol_version="ipfs/0.1.0",
    )


def test_round_trip() -> None:
    info = decode_identify([_message(ALICE)], ALICE.peer_id)
    assert info.agent_version == "p2pstack/test"
    assert info.listen_addrs[1] == Multiaddr("/ip4/10.0.0.1/tcp/4001")
    assert info.observed_addr == Multiaddr("/ip4/127.0.0.1/tcp/5555")
    assert info.protocols == ("/ipfs/ping/1.0.0", "/ipfs/id/1.0.0")


def test_message_is_trimmed_below_rust_limit() -> None:
    data = _message(ALICE, addrs=400)
    assert len(data) <= MAX_SEND_SIZE
    assert decode_identify([data], ALICE.peer_id).listen_addrs


def test_someone_elses_key_is_rejected() -> None:
    with pytest.raises(IdentifyError, match="not to the authenticated"):
        decode_identify([_message(BOB)], ALICE.peer_id)


def test_messages_merge() -> None:
    first, second = _message(ALICE, addrs=1), _message(ALICE, addrs=3)
    info = decode_identify([first, second], ALICE.peer_id)
    assert len(info.listen_addrs) == 4  # repeated fields accumulate, as go merges them


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=256), max_size=3))
def test_any_bytes_decode_or_raise_identify_error(messages: list[bytes]) -> None:
    try:
        info = decode_identify(messages, ALICE.peer_id)
    except IdentifyError:
        return
    assert info.peer_id == ALICE.peer_id


# Regression (issue 12): upb hands back bytes for a proto2 string field that is not UTF-8;
# ``protocols`` then made decode_identify raise TypeError ("startswith first arg must be
# bytes"), which killed the node.
NON_UTF8_PROTOCOL = base64.b64decode("GgpBYJafn2BgYGBg")


def test_non_utf8_protocol_is_a_decode_error() -> None:
    with pytest.raises(IdentifyDecodeError, match="identify protocol is not UTF-8"):
        decode_identify([NON_UTF8_PROTOCOL], ALICE.peer_id)


@pytest.mark.parametrize("tag", [0x2A, 0x32])  # protocolVersion (5), agentVersion (6)
def test_non_utf8_version_strings_are_decode_errors(tag: int) -> None:
    with pytest.raises(IdentifyDecodeError, match="not UTF-8"):
        decode_identify([bytes([tag, 2, 0xFF, 0xFE])], ALICE.peer_id)


def test_identify_decode_error_is_a_decode_error_and_an_identify_error() -> None:
    assert issubclass(IdentifyDecodeError, DecodeError)
    assert issubclass(IdentifyDecodeError, IdentifyError)
