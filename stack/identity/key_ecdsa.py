"""ECDSA keys over secp256k1 (compressed points) and the NIST curves (DER), SHA-256 signatures."""

from __future__ import annotations

from typing import Final, Self, final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from p2pstack.errors import InvalidKeyError
from p2pstack.identity.key_base import (
    KeyType,
    PrivateKey,
    PublicKey,
    load_der_private,
    load_spki,
)

_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())

_ECDSA_CURVES: Final = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

_SECP256K1_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _ecdsa_verify(key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    try:
        key.verify(bytes(signature), bytes(data), _ECDSA_SHA256)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


@final
class Secp256k1PublicKey(PublicKey):
    """A secp256k1 public key (33-byte compressed SEC1 point)."""

    key_type = KeyType.SECP256K1
    __slots__ = ("_key",)

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        if not isinstance(key.curve, ec.SECP256K1):
            raise InvalidKeyError("not a secp256k1 key")
        self._key = key
        super().__init__()

    @classmethod
    def from_raw(cls, data: bytes) -> Self:
        if len(data) != 33 or data[0] not in (2, 3):
            raise InvalidKeyError("secp256k1 public key must be a 33-byte compressed point")
        try:
            return cls(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), bytes(data)))
        except ValueError as exc:
            raise InvalidKeyError(f"invalid secp256k1 point: {exc}") from exc

    def _raw_bytes(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )

    def verify(self, data: bytes, signature: bytes) -> bool:
        return _ecdsa_verify(self._key, data, signature)


@final
class Secp256k1PrivateKey(PrivateKey):
    """A secp256k1 private key (raw 32-byte big-endian scalar); signs with low-S DER ECDSA."""

    key_type = KeyType.SECP256K1
    __slots__ = ("_key", "_public")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key.curve, ec.SECP256K1):
            raise InvalidKeyError("not a secp256k1 key")
        self._key = key
        self._public = Secp256k1PublicKey(key.public_key())

    @classmethod
    def from_raw(cls, data: bytes) -> Self:
        if len(data) != 32:
            raise InvalidKeyError(f"secp256k1 private key must be 32 bytes, got {len(data)}")
        scalar = int.from_bytes(data, "big")
        if not 0 < scalar < _SECP256K1_ORDER:
            raise InvalidKeyError("secp256k1 private scalar out of range")
        return cls(ec.derive_private_key(scalar, ec.SECP256K1()))

    @classmethod
    def generate(cls) -> Self:
        return cls(ec.generate_private_key(ec.SECP256K1()))

    @property
    def public_key(self) -> Secp256k1PublicKey:
        return self._public

    def raw_bytes(self) -> bytes:
        return self._key.private_numbers().private_value.to_bytes(32, "big")

    def sign(self, data: bytes) -> bytes:
        # Bitcoin-style verifiers (go's decred secp256k1) may insist on the low-S form.
        r, s = decode_dss_signature(self._key.sign(bytes(data), _ECDSA_SHA256))
        if s > _SECP256K1_ORDER // 2:
            s = _SECP256K1_ORDER - s
        return encode_dss_signature(r, s)


@final
class EcdsaPublicKey(PublicKey):
    """An ECDSA public key on P-256 (also P-384/P-521 as go allows), as DER SPKI."""

    key_type = KeyType.ECDSA
    __slots__ = ("_key",)

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        if not isinstance(key.curve, _ECDSA_CURVES):
            raise InvalidKeyError(f"unsupported ECDSA curve {key.curve.name}")
        self._key = key
        super().__init__()

    @classmethod
    def from_raw(cls, data: bytes) -> Self:
        key = load_spki(data, "ECDSA")
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InvalidKeyError("ECDSA key data is not an elliptic-curve key")
        return cls(key)

    def _raw_bytes(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, data: bytes, signature: bytes) -> bool:
        return _ecdsa_verify(self._key, data, signature)


@final
class EcdsaPrivateKey(PrivateKey):
    """An ECDSA private key (DER SEC1 ``ECPrivateKey``); generates on P-256."""

    key_type = KeyType.ECDSA
    __slots__ = ("_key", "_public")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self._public = EcdsaPublicKey(key.public_key())

    @classmethod
    def from_raw(cls, data: bytes) -> Self:
        key = load_der_private(data, "ECDSA")
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidKeyError("ECDSA private key data is not an elliptic-curve key")
        return cls(key)

    @classmethod
    def generate(cls) -> Self:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> EcdsaPublicKey:
        return self._public

    def raw_bytes(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(bytes(data), _ECDSA_SHA256)


# -- RSA -----------------------------------------------------------------------------------------
