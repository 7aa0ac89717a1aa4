"""Noise vector (flynn/noise), transport framing and the frame ciphers. No I/O."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, strategies as st
from noise.connection import Keypair, NoiseConnection

from p2pstack.security.noise import (
    FrameDecryptor,
    FrameEncryptor,
    NoiseDecryptError,
    NoiseNonceExhausted,
)
from p2pstack.security.noise.cipher import MAX_NONCE
from p2pstack.security.noise.framing import MAX_PLAINTEXT_LEN, encode_frame, split_frame
from p2pstack.security.noise.handshake import PROTOCOL_NAME, split_keys

# flynn/noise vectors.txt, Noise_XX_25519_ChaChaPoly_SHA256, empty prologue and payloads.
MSG1 = "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254"
MSG2 = (
    "64b101b1d0be5a8704bd078f9895001fc03e8e9f9522f188dd128d9846d484663414af878d3e46a2f58911a8"
    "16d6e8346d4ea17a6f2a0bb4ef4ed56c133cff4560a34e36ea82109f26cf2e5a5caf992b608d55c747f615e5"
    "a3425a7a19eefb8f"
)
MSG3 = (
    "87f864c11ba449f46a0a4f4e2eacbb7b0457784f4fca1937f572c93603e9c4d97e5ea11b16f3968710b23a3b"
    "e3202dc1b5e1ce3c963347491e74f5c0768a9b42"
)
TRANSPORT_I2R = "a52ef02ba60e12696d1d6b9ef4245c88fca757b6134ad6e76b56e310a6adf6"
TRANSPORT_R2I = "2445aa438ebd649281c636cc7269ca82f1d9023d72520943aeabf909cdf521"


def _vector_party(initiator: bool) -> object:
    conn = NoiseConnection.from_name(PROTOCOL_NAME)
    if initiator:
        conn.set_as_initiator()
        static, ephemeral = bytes(range(0x00, 0x20)), bytes(range(0x20, 0x40))
    else:
        conn.set_as_responder()
        static, ephemeral = bytes(range(0x01, 0x21)), bytes(range(0x41, 0x61))
    conn.set_keypair_from_private_bytes(Keypair.STATIC, static)
    conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, ephemeral)
    with pytest.warns(UserWarning, match="ephemeral"):  # noiseprotocol warns on fixed ephemerals
        conn.start_handshake()
    return conn


def test_flynn_noise_xx_vector() -> None:
    init, resp = _vector_party(True), _vector_party(False)
    msg1 = init.write_message(b"")  # type: ignore[attr-defined]
    assert msg1.hex() == MSG1
    resp.read_message(msg1)  # type: ignore[attr-defined]
    msg2 = resp.write_message(b"")  # type: ignore[attr-defined]
    assert msg2.hex() == MSG2
    init.read_message(msg2)  # type: ignore[attr-defined]
    msg3 = init.write_message(b"")  # type: ignore[attr-defined]
    assert msg3.hex() == MSG3
    resp.read_message(msg3)  # type: ignore[attr-defined]

    i_send, i_recv = split_keys(init)
    r_send, r_recv = split_keys(resp)
    assert (i_send, i_recv) == (r_recv, r_send)

    frame = FrameEncryptor(i_send).encrypt(b"yellowsubmarine")
    assert frame[:2] == len(bytes.fromhex(TRANSPORT_I2R)).to_bytes(2, "big")
    assert frame[2:].hex() == TRANSPORT_I2R
    assert FrameDecryptor(r_recv).feed(frame) == b"yellowsubmarine"
    back = FrameEncryptor(r_send).encrypt(b"submarineyellow")
    assert back[2:].hex() == TRANSPORT_R2I
    assert FrameDecryptor(i_recv).feed(back) == b"submarineyellow"


def test_framing() -> None:
    assert encode_frame(b"abc") == b"\x00\x03abc"
    assert split_frame(b"\x00\x03abcde") == (b"abc", 5)
    assert split_frame(b"\x00\x03ab") is None
    assert split_frame(b"\x00") is None
    assert split_frame(b"xx\x00\x00", 2) == (b"", 4)
    encode_frame(b"x" * 65535)
    with pytest.raises(ValueError, match="exceeds"):
        encode_frame(b"x" * 65536)


KEY = bytes(range(32))


def test_large_writes_split_into_max_frames() -> None:
    data = os.urandom(3 * MAX_PLAINTEXT_LEN + 5)
    enc = FrameEncryptor(KEY)
    out = enc.encrypt(data)
    assert enc.nonce == 4
    assert len(out) == len(data) + 4 * 18
    sizes = []
    pos = 0
    while pos < len(out):
        frame = split_frame(out, pos)
        assert frame is not None
        sizes.append(len(frame[0]))
        pos = frame[1]
    assert sizes == [65535, 65535, 65535, 21]
    assert FrameDecryptor(KEY).feed(out) == data


def test_empty_write_emits_nothing() -> None:
    enc = FrameEncryptor(KEY)
    assert enc.encrypt(b"") == b""
    assert enc.nonce == 0


def test_accepts_memoryview_and_multibyte_formats() -> None:
    import array

    arr = array.array("I", [1, 2, 3])
    out = FrameEncryptor(KEY).encrypt(memoryview(arr))
    assert FrameDecryptor(KEY).feed(out) == arr.tobytes()


@pytest.mark.parametrize("size", [0, 1, MAX_PLAINTEXT_LEN, MAX_PLAINTEXT_LEN + 1, 300_000])
def test_encrypt_into_matches_encrypt(size: int) -> None:
    data = os.urandom(size)
    expected = FrameEncryptor(KEY).encrypt(data)
    enc = FrameEncryptor(KEY)
    assert FrameEncryptor.encrypted_size(size) == len(expected)
    out = bytearray(b"\xaa" * (len(expected) + 7))  # a reused, larger, dirty buffer
    assert enc.encrypt_into(data, out) == len(expected)
    assert out[: len(expected)] == expected
    assert out[len(expected) :] == b"\xaa" * 7
    assert enc.nonce == -(-size // MAX_PLAINTEXT_LEN)


def test_encrypt_into_a_too_small_buffer_raises_and_keeps_the_nonce() -> None:
    enc = FrameEncryptor(KEY)
    with pytest.raises(ValueError, match="smaller than"):
        enc.encrypt_into(b"x" * 10, bytearray(10 + 18 - 1))
    assert enc.nonce == 0


@given(
    st.lists(st.binary(max_size=300), max_size=8),
    st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=10),
)
def test_decryptor_handles_any_chunking(messages: list[bytes], cuts: list[int]) -> None:
    enc = FrameEncryptor(KEY)
    stream = b"".join(bytes(enc.encrypt(m)) for m in messages)
    dec = FrameDecryptor(KEY)
    out = bytearray()
    pos = 0
    i = 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        out += dec.feed(stream[pos : pos + step])
        pos += step
        i += 1
    assert out == b"".join(messages)
    assert not dec.has_partial_frame


def test_zero_length_plaintext_frames_decrypt_to_nothing() -> None:
    # An empty Noise message is just a 16-byte tag; peers may send them.
    enc = FrameEncryptor(KEY)
    tag_only = bytearray(b"\x00\x10") + enc._aead.encrypt(bytes(12), b"", None)
    enc.nonce = 1
    dec = FrameDecryptor(KEY)
    assert dec.feed(tag_only) == b""
    assert dec.nonce == 1
    assert dec.feed(enc.encrypt(b"after")) == b"after"


def test_tampered_frame_raises() -> None:
    out = FrameEncryptor(KEY).encrypt(b"hello world")
    out[5] ^= 1
    with pytest.raises(NoiseDecryptError, match="authentication"):
        FrameDecryptor(KEY).feed(out)


def test_replayed_frame_raises() -> None:
    frame = bytes(FrameEncryptor(KEY).encrypt(b"once"))
    dec = FrameDecryptor(KEY)
    assert dec.feed(frame) == b"once"
    with pytest.raises(NoiseDecryptError):
        dec.feed(frame)


@pytest.mark.parametrize("length", [0, 1, 15])
def test_frames_shorter_than_a_tag_raise(length: int) -> None:
    with pytest.raises(NoiseDecryptError, match="shorter"):
        FrameDecryptor(KEY).feed(length.to_bytes(2, "big") + b"x" * length)


def test_short_frame_completed_across_feeds_raises() -> None:
    dec = FrameDecryptor(KEY)
    assert dec.feed(b"\x00") == b""
    assert dec.has_partial_frame
    with pytest.raises(NoiseDecryptError):
        dec.feed(b"\x05abcde")


def test_nonce_exhaustion() -> None:
    enc = FrameEncryptor(KEY, nonce=MAX_NONCE - 2)
    out = enc.encrypt(b"a")  # uses nonce 2**64-3
    out += enc.encrypt(b"b")  # uses 2**64-2, the last usable nonce
    with pytest.raises(NoiseNonceExhausted):
        enc.encrypt(b"c")
    dec = FrameDecryptor(KEY, nonce=MAX_NONCE - 2)
    assert dec.feed(out) == b"ab"
    with pytest.raises(NoiseNonceExhausted) as info:
        dec.feed(FrameEncryptor(KEY).encrypt(b"c"))
    assert info.value.remote
    big = FrameEncryptor(KEY, nonce=MAX_NONCE - 2)
    with pytest.raises(NoiseNonceExhausted):
        big.encrypt(b"x" * (3 * MAX_PLAINTEXT_LEN))
    assert big.nonce == MAX_NONCE - 2  # nothing consumed
