"""The sans-IO Noise XX handshake: two cores back to back, no trio."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, strategies as st

from p2pstack.errors import (
    DecodeError,
    HandshakeError,
    InvalidKeyError,
    PeerIdMismatch,
    SignatureError,
)
from p2pstack.identity import Identity, KeyType, PublicKey
from p2pstack.role import Role
from p2pstack.security.noise import (
    FrameDecryptor,
    FrameEncryptor,
    NoiseHandshake,
    handshake as handshake_module,
)
from p2pstack.security.noise.framing import MAX_MESSAGE_LEN, encode_frame
from p2pstack.security.noise.payload import SIGNATURE_PREFIX, decode_payload, encode_payload
from p2pstack.security.noise.payload_pb2 import NoiseExtensions, NoiseHandshakePayload

IDENTITIES: dict[KeyType, Identity] = {}


def ident(kt: KeyType = KeyType.ED25519, fresh: bool = False) -> Identity:
    if fresh:
        return Identity.generate(kt)
    if kt not in IDENTITIES:
        IDENTITIES[kt] = Identity.generate(kt)
    return IDENTITIES[kt]


def run_pair(init: NoiseHandshake, resp: NoiseHandshake, chunk: int | None = None) -> list[bytes]:
    """Shuttle messages until both finish; return the framed messages in order."""
    sent: list[bytes] = []
    senders = [(init, resp), (resp, init)]
    turn = 0
    while not (init.complete and resp.complete):
        src, dst = senders[turn % 2]
        out = src.data_to_send()
        if out:
            sent.append(out)
            if chunk is None:
                dst.receive_data(out)
            else:
                for i in range(0, len(out), chunk):
                    dst.receive_data(out[i : i + chunk])
        turn += 1
        assert turn < 10
    return sent


def test_ed25519_handshake_and_message_sizes() -> None:
    a, b = ident(), ident(KeyType.ED25519, fresh=True)
    init = NoiseHandshake(a, role=Role.INITIATOR, expected_peer=b.peer_id)
    resp = NoiseHandshake(b, role=Role.RESPONDER)
    msgs = run_pair(init, resp)
    # wire.md §5: 32 (+2), then 32+48+104+16 = 200, then 48+104+16 = 168
    assert [len(m) for m in msgs] == [34, 202, 170]
    assert [m[:2].hex() for m in msgs] == ["0020", "00c8", "00a8"]
    ri, rr = init.result, resp.result
    assert ri.remote_peer == b.peer_id
    assert rr.remote_peer == a.peer_id
    assert ri.remote_public_key == b.public_key
    assert rr.remote_public_key == a.public_key
    assert (ri.send_key, ri.recv_key) == (rr.recv_key, rr.send_key)
    assert ri.handshake_hash == rr.handshake_hash
    assert init.trailing_data == b""
    assert resp.trailing_data == b""
    assert FrameDecryptor(rr.recv_key).feed(FrameEncryptor(ri.send_key).encrypt(b"hi")) == b"hi"


def test_byte_by_byte_delivery() -> None:
    init = NoiseHandshake(ident(), role=Role.INITIATOR)
    resp = NoiseHandshake(ident(KeyType.SECP256K1), role=Role.RESPONDER)
    run_pair(init, resp, chunk=1)
    assert init.result.remote_peer == ident(KeyType.SECP256K1).peer_id


def test_trailing_transport_bytes_are_kept() -> None:
    init = NoiseHandshake(ident(), role=Role.INITIATOR)
    resp = NoiseHandshake(ident(KeyType.ED25519, fresh=True), role=Role.RESPONDER)
    resp.receive_data(init.data_to_send())
    init.receive_data(resp.data_to_send())
    assert init.complete
    early = FrameEncryptor(init.result.send_key).encrypt(b"early data")
    resp.receive_data(init.data_to_send() + early)
    assert resp.complete
    assert resp.trailing_data == early


@pytest.mark.parametrize("init_kt", list(KeyType))
@pytest.mark.parametrize("resp_kt", list(KeyType))
def test_all_key_type_combinations(init_kt: KeyType, resp_kt: KeyType) -> None:
    a, b = ident(init_kt), ident(resp_kt, fresh=init_kt == resp_kt and resp_kt != KeyType.RSA)
    init = NoiseHandshake(a, role=Role.INITIATOR, expected_peer=b.peer_id)
    resp = NoiseHandshake(b, role=Role.RESPONDER)
    msgs = run_pair(init, resp)
    assert all(len(m) - 2 <= MAX_MESSAGE_LEN for m in msgs)
    assert resp.result.remote_peer == a.peer_id
    assert init.result.remote_peer == b.peer_id


def test_handshake_message_size_bound_for_largest_keys() -> None:
    # The largest payload we can produce: an RSA-8192 key (1062-byte SPKI) and a 1024-byte sig.
    identity_key = 4 + 1062 + 20
    payload = 3 + identity_key + 3 + 1024
    assert 32 + 48 + payload + 16 < MAX_MESSAGE_LEN


def test_peer_id_mismatch() -> None:
    other = ident(KeyType.ED25519, fresh=True).peer_id
    init = NoiseHandshake(ident(), role=Role.INITIATOR, expected_peer=other)
    resp = NoiseHandshake(ident(KeyType.SECP256K1), role=Role.RESPONDER)
    resp.receive_data(init.data_to_send())
    with pytest.raises(PeerIdMismatch) as info:
        init.receive_data(resp.data_to_send())
    assert info.value.expected == other
    assert info.value.actual == ident(KeyType.SECP256K1).peer_id
    assert init.data_to_send() == b""  # msg3 is never sent
    with pytest.raises(HandshakeError, match="already failed"):
        init.receive_data(b"")


PayloadHook = Callable[[Identity, bytes], bytes]


def evil_pair(
    monkeypatch: pytest.MonkeyPatch, hook: PayloadHook, evil_is_initiator: bool
) -> tuple[NoiseHandshake, NoiseHandshake]:
    """A handshake pair whose evil side builds its payload with ``hook``."""
    evil = ident(KeyType.ED25519, fresh=True)

    def patched(identity: Identity, static: bytes) -> bytes:
        return hook(identity, static) if identity is evil else encode_payload(identity, static)

    monkeypatch.setattr(handshake_module, "encode_payload", patched)
    good = ident()
    if evil_is_initiator:
        return NoiseHandshake(evil, role=Role.INITIATOR), NoiseHandshake(good, role=Role.RESPONDER)
    return NoiseHandshake(good, role=Role.INITIATOR), NoiseHandshake(evil, role=Role.RESPONDER)


def _payload(identity_key: bytes | None, sig: bytes | None) -> bytes:
    msg = NoiseHandshakePayload()
    if identity_key is not None:
        msg.identity_key = identity_key
    if sig is not None:
        msg.identity_sig = sig
    return msg.SerializeToString()


BAD_PAYLOADS: dict[str, tuple[PayloadHook, type[Exception]]] = {
    "signature over the wrong key": (
        lambda i, s: _payload(i.public_key.to_protobuf(), i.sign(SIGNATURE_PREFIX + bytes(32))),
        SignatureError,
    ),
    "signature without the prefix": (
        lambda i, s: _payload(i.public_key.to_protobuf(), i.sign(s)),
        SignatureError,
    ),
    "someone else's identity key": (
        lambda i, s: _payload(
            ident(KeyType.SECP256K1).public_key.to_protobuf(), i.sign(SIGNATURE_PREFIX + s)
        ),
        SignatureError,
    ),
    "garbage identity key": (
        lambda i, s: _payload(b"\x08\x01\x12\x03abc", i.sign(SIGNATURE_PREFIX + s)),
        InvalidKeyError,
    ),
    "missing signature": (lambda i, s: _payload(i.public_key.to_protobuf(), None), DecodeError),
    "missing identity key": (
        lambda i, s: _payload(None, i.sign(SIGNATURE_PREFIX + s)),
        DecodeError,
    ),
    "empty payload": (lambda i, s: b"", DecodeError),
    "garbage payload": (lambda i, s: b"\xff\xff\xff", DecodeError),
}


@pytest.mark.parametrize("evil_is_initiator", [True, False])
@pytest.mark.parametrize("case", sorted(BAD_PAYLOADS))
def test_bad_payloads_are_rejected(
    monkeypatch: pytest.MonkeyPatch, case: str, evil_is_initiator: bool
) -> None:
    hook, cause = BAD_PAYLOADS[case]
    init, resp = evil_pair(monkeypatch, hook, evil_is_initiator)
    victim = resp if evil_is_initiator else init
    with pytest.raises(HandshakeError) as info:
        run_pair(init, resp)
    assert isinstance(info.value.__cause__, cause)
    assert not victim.complete


def test_payload_with_extensions_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    def with_extensions(i: Identity, s: bytes) -> bytes:
        msg = NoiseHandshakePayload(
            identity_key=i.public_key.to_protobuf(),
            identity_sig=i.sign(SIGNATURE_PREFIX + s),
            extensions=NoiseExtensions(stream_muxers=["/yamux/1.0.0"]),
        )
        return msg.SerializeToString()

    init, resp = evil_pair(monkeypatch, with_extensions, evil_is_initiator=False)
    run_pair(init, resp)
    assert init.complete
    assert resp.complete


def test_our_payload_carries_no_extensions() -> None:
    data = encode_payload(ident(), bytes(32))
    assert len(data) == 104  # wire.md §5: 0a 24 <36> 12 40 <64>
    assert data[:2] == b"\x0a\x24"
    assert data[38:40] == b"\x12\x40"
    msg = NoiseHandshakePayload()
    msg.ParseFromString(data)
    assert not msg.HasField("extensions")
    fields = decode_payload(data)
    key = PublicKey.from_protobuf(fields.identity_key)
    assert key.verify(SIGNATURE_PREFIX + bytes(32), fields.identity_sig)


@pytest.mark.parametrize(
    "message",
    [
        b"",  # empty msg1
        b"x" * 31,  # too short for e
        bytes(32),  # all-zero e: a low-order point (X25519 rejects it at ee)
    ],
)
def test_garbage_msg1(message: bytes) -> None:
    resp = NoiseHandshake(ident(), role=Role.RESPONDER)
    with pytest.raises(HandshakeError):  # the all-zero key fails at msg2's DH ee
        resp.receive_data(encode_frame(message))


def test_garbage_msg2_and_msg3() -> None:
    init = NoiseHandshake(ident(), role=Role.INITIATOR)
    with pytest.raises(HandshakeError):
        init.receive_data(encode_frame(b"\x01" * 200))
    init = NoiseHandshake(ident(), role=Role.INITIATOR)
    with pytest.raises(HandshakeError, match="too short"):
        init.receive_data(encode_frame(b"\x01" * 40))
    init = NoiseHandshake(ident(), role=Role.INITIATOR)
    resp = NoiseHandshake(ident(KeyType.SECP256K1), role=Role.RESPONDER)
    resp.receive_data(init.data_to_send())
    with pytest.raises(HandshakeError):
        resp.receive_data(encode_frame(b"\x02" * 168))


def _flip(at: int) -> Callable[[bytes], bytes]:
    return lambda m: m[:at] + bytes([m[at] ^ 1]) + m[at + 1 :]


@pytest.mark.parametrize(
    ("index", "mutate"),
    [
        (1, _flip(100)),  # a bit of msg2's encrypted static key / payload
        (2, _flip(50)),  # a bit of msg3
        (1, lambda m: encode_frame(m[2:-1])),  # msg2 one byte short
        (2, lambda m: encode_frame(m[2:-20])),  # msg3 cut short
    ],
)
def test_tampered_and_truncated_messages(index: int, mutate: Callable[[bytes], bytes]) -> None:
    init = NoiseHandshake(ident(), role=Role.INITIATOR)
    resp = NoiseHandshake(ident(KeyType.ED25519, fresh=True), role=Role.RESPONDER)
    parties = [(init, resp), (resp, init), (init, resp)]
    for src, dst in parties[:index]:
        dst.receive_data(src.data_to_send())
    src, dst = parties[index]
    tampered = mutate(src.data_to_send())
    with pytest.raises(HandshakeError):
        dst.receive_data(tampered)
    assert not dst.complete


@given(st.binary(max_size=300))
def test_any_payload_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        fields = decode_payload(data)
    except DecodeError:
        return
    assert isinstance(fields.identity_key, bytes)
    assert isinstance(fields.identity_sig, bytes)


@given(st.binary(min_size=0, max_size=400), st.booleans())
def test_any_handshake_message_is_handshake_error_or_progress(data: bytes, framed: bool) -> None:
    for role in Role:
        hs = NoiseHandshake(ident(), role=role)
        try:
            hs.receive_data(encode_frame(data) if framed else data)
        except HandshakeError:
            continue
        assert not hs.complete
