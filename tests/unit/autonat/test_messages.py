"""AutoNAT v1/v2 codecs: round trips, known wire bytes, typed errors on anything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings, strategies as st

from p2pstack.errors import DecodeError
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat.autonat import AutoNATDecodeError, v1_messages as v1, v2_messages as v2
from p2pstack.protocols.nat.autonat.pb import autonat_v2_pb2 as pb2

ME = Identity.from_ed25519_seed(bytes(32)).peer_id
ADDR = Multiaddr("/ip4/1.2.3.4/tcp/4001")


def test_v1_dial_round_trip_drops_peer_ids_and_caps_addresses() -> None:
    addrs = [ADDR.with_peer_id(ME)] * 40
    dial = v1.decode_v1_dial(v1.encode_v1_dial(ME, addrs))
    assert dial.peer_id == ME
    assert dial.addrs == (ADDR,) * v1.MAX_ADDRS


def test_v1_wire_bytes() -> None:
    # type=DIAL_RESPONSE(1), dialResponse{status=E_DIAL_ERROR(100)}
    data = v1.encode_v1_response(v1.V1DialResponse(v1.V1Status.E_DIAL_ERROR))
    assert data == bytes.fromhex("08011a020864")
    ok = v1.V1DialResponse(v1.V1Status.OK, "fine", ADDR)
    assert v1.decode_v1_response(v1.encode_v1_response(ok)) == ok


@pytest.mark.parametrize(
    "data",
    [
        b"\xff",
        bytes.fromhex("0801"),  # a DIAL_RESPONSE where a DIAL is due
        bytes.fromhex("0800"),  # a DIAL naming no peer
        bytes.fromhex("0800120412020a00"),  # an empty peer id
        bytes(5000),
    ],
)
def test_v1_bad_dials_raise_typed(data: bytes) -> None:
    with pytest.raises(AutoNATDecodeError):
        v1.decode_v1_dial(data)


def test_v1_response_with_unknown_status_is_refused() -> None:
    with pytest.raises(AutoNATDecodeError):
        v1.decode_v1_response(bytes.fromhex("08011a03080e01"))  # status 1 is not defined


def test_v2_round_trips() -> None:
    messages: list[v2.V2Message] = [
        v2.DialRequest((ADDR, None), 2**64 - 1),
        v2.DialDataRequest(1, 50_000),
        v2.DialDataResponse(4096),
        v2.DialResponse(v2.ResponseStatus.OK, 3, v2.DialStatus.E_DIAL_BACK_ERROR),
    ]
    decoded = [v2.decode_v2(v2.encode_v2(m)) for m in messages]
    assert decoded[0] == v2.DialRequest((ADDR, None), 2**64 - 1)  # index kept for a bad one
    assert decoded[1:] == messages[1:]
    assert v2.decode_dial_back(v2.encode_dial_back(7)) == 7
    v2.decode_dial_back_response(v2.encode_dial_back_response())


def test_v2_nonce_is_fixed64_on_the_wire() -> None:
    data = v2.encode_v2(v2.DialRequest((), 1))
    assert data == bytes.fromhex("0a091101") + bytes(7)


@pytest.mark.parametrize(
    "message",
    [
        pb2.Message(dialResponse=pb2.DialResponse(status=7)),  # type: ignore[arg-type]
        pb2.Message(dialResponse=pb2.DialResponse(status=200, dialStatus=5)),  # type: ignore[arg-type]
        pb2.Message(),
    ],
)
def test_v2_unknown_statuses_and_empty_messages_are_discarded(message: pb2.Message) -> None:
    with pytest.raises(AutoNATDecodeError):
        v2.decode_v2(message.SerializeToString())


def test_v2_dial_back_response_must_say_ok() -> None:
    with pytest.raises(AutoNATDecodeError):
        v2.decode_dial_back_response(bytes.fromhex("0801"))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    for decoder in (
        v1.decode_v1_dial,
        v1.decode_v1_response,
        v2.decode_v2,
        v2.decode_dial_back,
        v2.decode_dial_back_response,
    ):
        with contextlib.suppress(DecodeError):
            decoder(data)
