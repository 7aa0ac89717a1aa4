"""Keys: spec vectors, round trips, signatures and malformed input."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, strategies as st

from p2pstack.errors import InvalidKeyError
from p2pstack.identity import (
    EcdsaPrivateKey,
    EcdsaPublicKey,
    Ed25519PrivateKey,
    Ed25519PublicKey,
    KeyType,
    PeerId,
    PrivateKey,
    PublicKey,
    RsaPrivateKey,
    RsaPublicKey,
    Secp256k1PrivateKey,
    Secp256k1PublicKey,
    generate_private_key,
)
from p2pstack.identity.keys import MAX_KEY_PROTOBUF_LEN

DATA = Path(__file__).parent / "data"

# libp2p/specs peer-ids/peer-ids.md test vectors.
SPEC_ED25519_PRIVATE = bytes.fromhex(
    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
    "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
)
SPEC_ED25519_PUBLIC = bytes.fromhex(
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
)
SPEC_ED25519_PEER = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
SPEC_ED25519_CID = "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"
SPEC_SECP256K1_PRIVATE = bytes.fromhex(
    "0802122053DADF1D5A164D6B4ACDB15E24AA4C5B1D3461BDBD42ABEDB0A4404D56CED8FB"
)
SPEC_SECP256K1_PUBLIC = bytes.fromhex(
    "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99"
)
SPEC_SECP256K1_PEER = "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY"
SPEC_ECDSA_PRIVATE = bytes.fromhex(
    "08031279307702010104203E5B1FE9712E6C314942A750BD67485DE3C1EFE85B1BFB520AE8F9AE3DFA4A4CA0"
    "0A06082A8648CE3D030107A14403420004DE3D300FA36AE0E8F5D530899D83ABAB44ABF3161F162A4BC901D8"
    "E6ECDA020E8B6D5F8DA30525E71D6851510C098E5C47C646A597FB4DCEC034E9F77C409E62"
)
SPEC_ECDSA_PUBLIC = bytes.fromhex(
    "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d"
    "83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec0"
    "34e9f77c409e62"
)
SPEC_RSA_PRIVATE = bytes.fromhex((DATA / "rsa_private.hex").read_text().strip())
SPEC_RSA_PUBLIC = bytes.fromhex((DATA / "rsa_public.hex").read_text().strip())

# go-libp2p p2p/security/tls/crypto_test.go TestVectors (keys extracted from the certificates).
GO_VECTORS = [
    (
        "08011220a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b9",
        "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv",
    ),
    (
        "080212210206dc6968726765b820f050263ececf7f71e4955892776c0970542efd689d2382",
        "16Uiu2HAkutTMoTzDw1tCvSRtu6YoixJwS46S1ZFxW8hSx9fWHiPs",
    ),
    (
        "0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd3242178f"
        "d290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a3acf3dd72a801980"
        "d205e8a1ad29f2",
        "QmfXbAwNjJLXfesgztEHe8HwgVDCMMpZ9Eax1HYq6hn9uE",
    ),
]

SPEC_PAIRS = [
    (SPEC_ED25519_PRIVATE, SPEC_ED25519_PUBLIC, Ed25519PrivateKey),
    (SPEC_SECP256K1_PRIVATE, SPEC_SECP256K1_PUBLIC, Secp256k1PrivateKey),
    (SPEC_ECDSA_PRIVATE, SPEC_ECDSA_PUBLIC, EcdsaPrivateKey),
    (SPEC_RSA_PRIVATE, SPEC_RSA_PUBLIC, RsaPrivateKey),
]

_GENERATED: dict[KeyType, PrivateKey] = {}


def key_of(kt: KeyType) -> PrivateKey:
    """One generated key per type (RSA generation is slow)."""
    if kt not in _GENERATED:
        _GENERATED[kt] = generate_private_key(kt)
    return _GENERATED[kt]


@pytest.mark.parametrize(("pk_hex", "peer"), GO_VECTORS)
def test_go_tls_vectors_peer_ids(pk_hex: str, peer: str) -> None:
    pk = bytes.fromhex(pk_hex)
    key = PublicKey.from_protobuf(pk)
    assert key.to_protobuf() == pk
    assert str(key.to_peer_id()) == peer


def test_spec_ed25519_vector() -> None:
    priv = PrivateKey.from_protobuf(SPEC_ED25519_PRIVATE)
    assert isinstance(priv, Ed25519PrivateKey)
    assert priv.public_key.to_protobuf() == SPEC_ED25519_PUBLIC
    assert priv.to_protobuf() == SPEC_ED25519_PRIVATE
    peer = priv.public_key.to_peer_id()
    assert str(peer) == SPEC_ED25519_PEER
    assert peer.to_cid() == SPEC_ED25519_CID
    assert peer.multihash == b"\x00\x24" + SPEC_ED25519_PUBLIC
    assert peer.inline_public_key() == SPEC_ED25519_PUBLIC


def test_spec_secp256k1_peer_id() -> None:
    assert str(PublicKey.from_protobuf(SPEC_SECP256K1_PUBLIC).to_peer_id()) == SPEC_SECP256K1_PEER


@pytest.mark.parametrize(("private", "public", "cls"), SPEC_PAIRS)
def test_spec_key_pairs_round_trip(private: bytes, public: bytes, cls: type[PrivateKey]) -> None:
    priv = PrivateKey.from_protobuf(private)
    assert type(priv) is cls
    assert priv.to_protobuf().hex() == private.hex().lower()
    assert priv.public_key.to_protobuf() == public
    assert PublicKey.from_protobuf(public) == priv.public_key
    assert priv.public_key.verify(b"msg", priv.sign(b"msg"))
    assert priv.public_key.to_peer_id().inline_public_key() == (
        public if len(public) <= 42 else None
    )


def test_rsa_type_is_emitted_as_08_00() -> None:
    assert SPEC_RSA_PUBLIC[:2] == b"\x08\x00"
    key = PublicKey.from_protobuf(SPEC_RSA_PUBLIC)
    assert key.key_type is KeyType.RSA
    assert key.to_protobuf()[:2] == b"\x08\x00"
    assert key.to_peer_id().multihash[:2] == b"\x12\x20"


@pytest.mark.parametrize("kt", list(KeyType))
def test_generated_keys_round_trip_and_sign(kt: KeyType) -> None:
    priv = key_of(kt)
    assert priv.key_type is kt
    pub = priv.public_key
    data = b"noise-libp2p-static-key:" + bytes(32)
    sig = priv.sign(data)
    assert pub.verify(data, sig)
    assert not pub.verify(data + b"x", sig)
    assert not pub.verify(data, sig[:-1] + bytes([sig[-1] ^ 1]))
    assert not pub.verify(data, b"")
    assert not pub.verify(data, b"\x30\x00garbage")
    assert PrivateKey.from_protobuf(priv.to_protobuf()) == priv
    decoded = PublicKey.from_protobuf(pub.to_protobuf())
    assert decoded == pub
    assert hash(decoded) == hash(pub)
    assert type(decoded) is type(pub)
    assert decoded.raw_bytes() == pub.raw_bytes()
    assert pub.to_protobuf()[:2] == bytes((0x08, kt))
    assert PeerId.from_public_key_bytes(pub.to_protobuf()) == pub.to_peer_id()


def test_keys_of_different_types_differ() -> None:
    pubs = {key_of(kt).public_key for kt in KeyType}
    assert len(pubs) == len(KeyType)
    assert key_of(KeyType.ED25519).public_key != "not a key"


def test_subclass_from_protobuf_checks_the_type() -> None:
    assert isinstance(Ed25519PublicKey.from_protobuf(SPEC_ED25519_PUBLIC), Ed25519PublicKey)
    with pytest.raises(InvalidKeyError, match="expected a SECP256K1"):
        Secp256k1PublicKey.from_protobuf(SPEC_ED25519_PUBLIC)
    with pytest.raises(InvalidKeyError):
        RsaPrivateKey.from_protobuf(SPEC_ED25519_PRIVATE)


def test_ed25519_seed_and_legacy_96_byte_form() -> None:
    priv = Ed25519PrivateKey.from_protobuf(SPEC_ED25519_PRIVATE)
    assert isinstance(priv, Ed25519PrivateKey)
    seed, pub = priv.seed(), priv.public_key.raw_bytes()
    assert Ed25519PrivateKey.from_seed(seed) == priv
    assert Ed25519PrivateKey.from_raw(seed + pub + pub) == priv
    other = Ed25519PrivateKey.generate().public_key.raw_bytes()
    with pytest.raises(InvalidKeyError, match="two different"):
        Ed25519PrivateKey.from_raw(seed + pub + other)
    with pytest.raises(InvalidKeyError, match="does not match"):
        Ed25519PrivateKey.from_raw(seed + other)
    with pytest.raises(InvalidKeyError):
        Ed25519PrivateKey.from_seed(seed[:31])


def test_secp256k1_signatures_are_low_s() -> None:
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    priv = key_of(KeyType.SECP256K1)
    for i in range(20):
        _, s = decode_dss_signature(priv.sign(b"m%d" % i))
        assert s <= order // 2


def _pb(kt: int, data: bytes) -> bytes:
    return bytes((0x08, kt, 0x12)) + _uvarint(len(data)) + data


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _rsa_spki(bits: int, e: int = 65537) -> bytes:
    from cryptography.hazmat.primitives import serialization

    n = (1 << (bits - 1)) | 1  # not a real modulus, but well-formed
    pub = rsa.RSAPublicNumbers(e, n).public_key()
    return pub.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "Type"),
        (b"\x08\x01", "Type"),  # no Data
        (b"\x12\x00", "Type"),  # no Type
        (_pb(7, b"x" * 32), "Type"),  # unknown enum value
        (b"\xff\xff", "malformed"),
        (_pb(1, b"x" * 31), "32 bytes"),
        (_pb(2, b"\x04" + b"\x01" * 64), "compressed"),  # uncompressed point refused
        (_pb(2, b"\x02" + b"\xff" * 32), "invalid secp256k1"),  # x not on the curve
        (_pb(3, b"\x30\x03garbage"), "SubjectPublicKeyInfo"),
        (_pb(0, b"\x30\x00"), "SubjectPublicKeyInfo"),
        (_pb(0, _rsa_spki(512)), "bits"),
        (_pb(0, _rsa_spki(1024, e=(1 << 40) + 1)), "exponent"),
        (_pb(1, b"x" * (MAX_KEY_PROTOBUF_LEN + 1)), "exceeds"),
    ],
)
def test_malformed_public_keys(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidKeyError, match=reason):
        PublicKey.from_protobuf(data)


def test_rsa_size_limits() -> None:
    assert PublicKey.from_protobuf(_pb(0, _rsa_spki(1024))).key_type is KeyType.RSA
    assert PublicKey.from_protobuf(_pb(0, _rsa_spki(8192))).key_type is KeyType.RSA
    with pytest.raises(InvalidKeyError):
        PublicKey.from_protobuf(_pb(0, _rsa_spki(8200)))
    with pytest.raises(InvalidKeyError):
        RsaPrivateKey.generate(bits=512)


def test_ecdsa_rejects_wrong_key_kinds() -> None:
    secp_spki = key_of(KeyType.SECP256K1)
    assert isinstance(secp_spki, Secp256k1PrivateKey)
    # an RSA SPKI labelled ECDSA, and a secp256k1 SPKI (not a curve go's ECDSA type allows)
    with pytest.raises(InvalidKeyError):
        PublicKey.from_protobuf(_pb(3, SPEC_RSA_PUBLIC[6:]))
    from cryptography.hazmat.primitives import serialization

    k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    der = k1.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKeyError, match="curve"):
        PublicKey.from_protobuf(_pb(3, der))
    p384 = EcdsaPublicKey(ec.generate_private_key(ec.SECP384R1()).public_key())
    assert PublicKey.from_protobuf(p384.to_protobuf()) == p384


@pytest.mark.parametrize(
    "data",
    [
        _pb(1, b"x" * 32),  # a public-key-sized Ed25519 Data
        _pb(2, b"\x00" * 32),  # scalar zero
        _pb(2, b"\xff" * 32),  # scalar >= order
        _pb(3, b"\x30\x00"),
        _pb(0, b"\x30\x00"),
        _pb(0, b"\x30" * 6000),
        SPEC_ED25519_PUBLIC,  # a public key where a private one belongs
    ],
)
def test_malformed_private_keys(data: bytes) -> None:
    with pytest.raises(InvalidKeyError):
        PrivateKey.from_protobuf(data)


def test_unknown_protobuf_fields_are_ignored_and_canonicalized() -> None:
    data = SPEC_ED25519_PUBLIC + b"\x18\x05"
    key = PublicKey.from_protobuf(data)
    assert key.to_protobuf() == SPEC_ED25519_PUBLIC


@given(st.binary(max_size=200))
def test_any_bytes_into_public_key(data: bytes) -> None:
    try:
        key = PublicKey.from_protobuf(data)
    except InvalidKeyError:
        return
    assert PublicKey.from_protobuf(key.to_protobuf()) == key


@given(st.sampled_from(list(KeyType)), st.binary(max_size=200))
def test_any_data_field_into_keys(kt: KeyType, data: bytes) -> None:
    for decode in (PublicKey.from_protobuf, PrivateKey.from_protobuf):
        with contextlib.suppress(InvalidKeyError):
            decode(_pb(kt, data))


@given(st.binary(max_size=200))
def test_any_bytes_into_private_key(data: bytes) -> None:
    try:
        key = PrivateKey.from_protobuf(data)
    except InvalidKeyError:
        return
    assert PrivateKey.from_protobuf(key.to_protobuf()) == key


def test_key_classes_exported() -> None:
    assert {RsaPublicKey, Secp256k1PublicKey, EcdsaPublicKey, Ed25519PublicKey} == {
        type(key_of(kt).public_key) for kt in KeyType
    }


def test_generated_protobuf_emits_zero_enum_and_parses_leniently() -> None:
    from p2pstack.identity.pb import crypto_pb2

    msg = crypto_pb2.PublicKey(Type=crypto_pb2.RSA, Data=b"")
    assert msg.SerializeToString(deterministic=True) == b"\x08\x00\x12\x00"
    parsed = crypto_pb2.PublicKey()
    parsed.ParseFromString(b"\x12\x00")  # upb does not enforce `required` on parse...
    assert not parsed.HasField("Type")  # ...so keys.py checks presence itself
