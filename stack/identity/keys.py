"""libp2p identity keys: Ed25519, Secp256k1, ECDSA and RSA on top of ``cryptography``.

Wire forms follow libp2p/specs ``peer-ids/peer-ids.md``: a key travels as the proto2
``PublicKey``/``PrivateKey`` message ``08 <type> 12 uvarint(len) Data`` (see ``pb/crypto.proto``).

=========== ============================== =============================== ======================
type        PublicKey.Data                 PrivateKey.Data                 signature
=========== ============================== =============================== ======================
Ed25519     32-byte raw key                seed(32) || pub(32)             RFC 8032 (no prehash)
Secp256k1   33-byte compressed point       raw 32-byte scalar              ECDSA-SHA256, DER
ECDSA       DER SubjectPublicKeyInfo       DER SEC1 ECPrivateKey           ECDSA-SHA256, DER
RSA         DER SubjectPublicKeyInfo       DER PKCS#1 RSAPrivateKey        PKCS#1 v1.5 SHA-256
=========== ============================== =============================== ======================

Decoding is strict about what it accepts and lenient about protobuf framing (unknown fields are
ignored, as go-libp2p does); :meth:`PublicKey.to_protobuf` always re-serializes canonically, and
peer ids are derived from that canonical form. Every malformed input raises
:class:`~stack.errors.InvalidKeyError`.
"""

from __future__ import annotations

import abc
import enum
from typing import ClassVar, Final, Self, final

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from google.protobuf.message import DecodeError as _PbDecodeError

from ..errors import InvalidKeyError
from .pb import crypto_pb2
from .peer_id import PeerId

MAX_KEY_PROTOBUF_LEN: Final = 16 * 1024
"""Larger serialized keys are rejected before parsing (RSA-8192 private is ~4.7 KiB)."""
MIN_RSA_BITS: Final = 1024
MAX_RSA_BITS: Final = 8192
"""go-libp2p also caps RSA at 8192 bits (its minimum is 2048; we accept 1024 for old peers)."""
DEFAULT_RSA_BITS: Final = 2048
MAX_RSA_PRIVATE_DER_LEN: Final = 5 * 1024
"""An RSA-8192 PKCS#1 private key is about 4.7 KiB of DER."""
MAX_RSA_PUBLIC_EXPONENT: Final = (1 << 31) - 1
"""Go's crypto/rsa refuses larger exponents; huge ones would make verification a DoS vector."""

_SECP256K1_ORDER: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ECDSA_CURVES: Final = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_SHA256: Final = hashes.SHA256()
_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())
_PKCS1V15: Final = padding.PKCS1v15()


class KeyType(enum.IntEnum):
    """The libp2p ``KeyType`` enum; values are the protobuf numbers."""

    RSA = 0
    ED25519 = 1
    SECP256K1 = 2
    ECDSA = 3


def _encode(
    message_cls: type[crypto_pb2.PublicKey | crypto_pb2.PrivateKey], kt: int, data: bytes
) -> bytes:
    msg = message_cls()
    msg.Type = crypto_pb2.KeyType.ValueType(kt)
    msg.Data = data
    return msg.SerializeToString(deterministic=True)


def _decode(
    message_cls: type[crypto_pb2.PublicKey | crypto_pb2.PrivateKey], data: bytes
) -> tuple[KeyType, bytes]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidKeyError(f"a serialized key must be bytes, not {type(data).__name__}")
    if len(data) > MAX_KEY_PROTOBUF_LEN:
        raise InvalidKeyError(f"serialized key of {len(data)} bytes exceeds {MAX_KEY_PROTOBUF_LEN}")
    msg = message_cls()
    try:
        msg.ParseFromString(bytes(data))
    except _PbDecodeError as exc:
        raise InvalidKeyError(f"malformed key protobuf: {exc}") from exc
    # proto2 closed enum: an unknown Type value lands in unknown fields, leaving Type unset.
    if not (msg.HasField("Type") and msg.HasField("Data")):
        raise InvalidKeyError("key protobuf lacks a (known) Type or Data field")
    return KeyType(msg.Type), msg.Data


class PublicKey(abc.ABC):
    """A libp2p public key. Equal and hashed by its canonical serialized protobuf."""

    key_type: ClassVar[KeyType]
    __slots__ = ("_serialized",)

    def __init__(self) -> None:
        self._serialized = _encode(crypto_pb2.PublicKey, self.key_type, self._raw_bytes())

    @abc.abstractmethod
    def _raw_bytes(self) -> bytes:
        """The ``Data`` field of the protobuf form."""

    @abc.abstractmethod
    def verify(self, data: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` signs ``data``; never raises for bad input."""

    @classmethod
    @abc.abstractmethod
    def from_raw(cls, data: bytes) -> Self:
        """Build the key from its ``Data`` bytes. Raises :class:`InvalidKeyError`."""

    def raw_bytes(self) -> bytes:
        """The type-specific encoding carried in the protobuf ``Data`` field."""
        return self._raw_bytes()

    def to_protobuf(self) -> bytes:
        """The canonical serialized ``PublicKey`` protobuf (``08 <type> 12 <len> <data>``)."""
        return self._serialized

    def to_peer_id(self) -> PeerId:
        """The peer id of this key (identity multihash up to 42 bytes, else sha2-256)."""
        return PeerId.from_public_key_bytes(self._serialized)

    @classmethod
    def from_protobuf(cls, data: bytes) -> PublicKey:
        """Decode a serialized ``PublicKey`` protobuf.

        Called on a concrete subclass, the decoded type must match that subclass.

        Raises:
            InvalidKeyError: malformed, oversized, unsupported or of the wrong type.
        """
        kt, raw = _decode(crypto_pb2.PublicKey, data)
        impl = _PUBLIC_TYPES[kt]
        if cls is not PublicKey and impl is not cls:
            raise InvalidKeyError(f"expected a {cls.key_type.name} key, got {kt.name}")
        return impl.from_raw(raw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self._serialized == other._serialized

    def __hash__(self) -> int:
        return hash(self._serialized)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_peer_id()}>"


class PrivateKey(abc.ABC):
    """A libp2p private key that can sign; compares by its serialized protobuf."""

    key_type: ClassVar[KeyType]
    __slots__ = ()

    @property
    @abc.abstractmethod
    def public_key(self) -> PublicKey:
        """The matching public key."""

    @abc.abstractmethod
    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with the scheme of this key type (see the module table)."""

    @abc.abstractmethod
    def raw_bytes(self) -> bytes:
        """The type-specific encoding carried in the protobuf ``Data`` field."""

    @classmethod
    @abc.abstractmethod
    def from_raw(cls, data: bytes) -> Self:
        """Build the key from its ``Data`` bytes. Raises :class:`InvalidKeyError`."""

    @classmethod
    @abc.abstractmethod
    def generate(cls) -> Self:
        """Generate a fresh random key of this type."""

    def to_protobuf(self) -> bytes:
        """The serialized ``PrivateKey`` protobuf (go/js "marshalled private key")."""
        return _encode(crypto_pb2.PrivateKey, self.key_type, self.raw_bytes())

    @classmethod
    def from_protobuf(cls, data: bytes) -> PrivateKey:
        """Decode a serialized ``PrivateKey`` protobuf.

        Raises:
            InvalidKeyError: malformed, oversized, unsupported or of the wrong type.
        """
        kt, raw = _decode(crypto_pb2.PrivateKey, data)
        impl = _PRIVATE_TYPES[kt]
        if cls is not PrivateKey and impl is not cls:
            raise InvalidKeyError(f"expected a {cls.key_type.name} key, got {kt.name}")
        return impl.from_raw(raw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateKey):
            return NotImplemented
        return self.key_type == other.key_type and self.raw_bytes() == other.raw_bytes()

    def __hash__(self) -> int:
        return hash(self.public_key)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.public_key.to_peer_id()}>"


# -- Ed25519 -------------------------------------------------------------------------------------


@final
class Ed25519PublicKey(PublicKey):
    """An Ed25519 public key (32 raw bytes)."""

    key_type = KeyType.ED25519
    __slots__ = ("_key",)

    def __init__(self, key: ed25519.Ed25519PublicKey) -> None:
        self._key = key
        super().__init__()

    @classmethod
    def from_raw(cls, data: bytes) -> Self:
        if len(data) != 32:
            raise InvalidKeyError(f"Ed25519 public key must be 32 bytes, got {len(data)}")
        try:
            return cls(ed25519.Ed25519PublicKey.from_public_bytes(data))
        except ValueError as exc:
            raise InvalidKeyError(f"invalid Ed25519 public key: {exc}") from exc

    def _raw_bytes(self) -> bytes:
        return self._key.public_bytes_raw()

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(bytes(signature), bytes(data))
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


@final
class Ed25519PrivateKey(PrivateKey):
    """An Ed25519 private key; ``Data`` is ``seed || public`` (64 bytes)."""

    key_type = KeyType.ED25519
    __slots__ = ("_key", "_public")

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key
        self._public = Ed25519PublicKey(key.public_key())

    @classmethod
    def from_seed(cls, seed: bytes) -> Self:
        """Derive the key from a 32-byte RFC 8032 seed. Raises :class:`InvalidKeyError`."""
        if not isinstance(seed, bytes | bytearray) or len(seed) != 32:
            raise InvalidKeyError("an Ed25519 seed must be 32 bytes")
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @classmethod
    def from_raw(cls, data: bytes) -> Self:
        """Accept ``seed||pub`` (64 bytes) or the legacy ``seed||pub||pub`` (96 bytes)."""
        if len(data) == 96:
            if data[32:64] != data[64:96]:
                raise InvalidKeyError("legacy 96-byte Ed25519 key holds two different public keys")
            data = data[:64]
        if len(data) != 64:
            raise InvalidKeyError(f"Ed25519 private key must be 64 bytes, got {len(data)}")
        key = cls.from_seed(data[:32])
        if key._public.raw_bytes() != data[32:]:
            raise InvalidKeyError("Ed25519 private key does not match its embedded public key")
        return key

    @classmethod
    def generate(cls) -> Self:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public

    def seed(self) -> bytes:
        """The 32-byte RFC 8032 seed."""
        return self._key.private_bytes_raw()

    def raw_bytes(self) -> bytes:
        return self.seed() + self._public.raw_bytes()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(bytes(data))


# -- ECDSA over secp256k1 / NIST curves ----------------------------------------------------------


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
        key = _load_spki(data, "ECDSA")
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
        key = _load_der_private(data, "ECDSA")
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


def _check_rsa(numbers: rsa.RSAPublicNumbers) -> None:
    bits = numbers.n.bit_length()
    if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
        raise InvalidKeyError(f"RSA key of {bits} bits outside [{MIN_RSA_BITS}, {MAX_RSA_BITS}]")
    if not 3 <= numbers.e <= MAX_RSA_PUBLIC_EXPONENT or numbers.e % 2 == 0:
        raise InvalidKeyError("RSA public exponent is unsupported")


@final
class RsaPublicKey(PublicKey):
    """An RSA public key (DER PKIX SubjectPublicKeyInfo), 1024 to 8192 bits."""

    key_type = KeyType.RSA
    __slots__ = ("_key",)

    def __init__(self, key: rsa.RSAPublicKey) -> None:
        _check_rsa(key.public_numbers())
        self._key = key
        super().__init__()

    @classmethod
    def from_raw(cls, data: bytes) -> Self:
        if len(data) > MAX_RSA_BITS // 8 + 64:  # reject before any bignum parsing
            raise InvalidKeyError("RSA public key data is too large")
        key = _load_spki(data, "RSA")
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidKeyError("RSA key data is not an RSA key")
        return cls(key)

    def _raw_bytes(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(bytes(signature), bytes(data), _PKCS1V15, _SHA256)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


@final
class RsaPrivateKey(PrivateKey):
    """An RSA private key (DER PKCS#1 ``RSAPrivateKey``); signs PKCS#1 v1.5 with SHA-256."""

    key_type = KeyType.RSA
    __slots__ = ("_key", "_public")

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key
        self._public = RsaPublicKey(key.public_key())

    @classmethod
    def from_raw(cls, data: bytes) -> Self:
        if len(data) > MAX_RSA_PRIVATE_DER_LEN:  # bound the cost of parsing and validation
            raise InvalidKeyError("RSA private key data is too large")
        key = _load_der_private(data, "RSA")
        if not isinstance(key, rsa.RSAPrivateKey):
            raise InvalidKeyError("RSA private key data is not an RSA key")
        return cls(key)

    @classmethod
    def generate(cls, bits: int = DEFAULT_RSA_BITS) -> Self:
        """Generate an RSA key with public exponent 65537."""
        if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
            raise InvalidKeyError(f"RSA size must be in [{MIN_RSA_BITS}, {MAX_RSA_BITS}]")
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits))

    @property
    def public_key(self) -> RsaPublicKey:
        return self._public

    def raw_bytes(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(bytes(data), _PKCS1V15, _SHA256)


# -- helpers -------------------------------------------------------------------------------------


def _load_spki(data: bytes, what: str) -> object:
    try:
        return serialization.load_der_public_key(bytes(data))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKeyError(f"invalid {what} SubjectPublicKeyInfo: {exc}") from exc


def _load_der_private(data: bytes, what: str) -> object:
    try:
        return serialization.load_der_private_key(bytes(data), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKeyError(f"invalid {what} private key DER: {exc}") from exc


_PUBLIC_TYPES: Final[dict[KeyType, type[PublicKey]]] = {
    KeyType.RSA: RsaPublicKey,
    KeyType.ED25519: Ed25519PublicKey,
    KeyType.SECP256K1: Secp256k1PublicKey,
    KeyType.ECDSA: EcdsaPublicKey,
}
_PRIVATE_TYPES: Final[dict[KeyType, type[PrivateKey]]] = {
    KeyType.RSA: RsaPrivateKey,
    KeyType.ED25519: Ed25519PrivateKey,
    KeyType.SECP256K1: Secp256k1PrivateKey,
    KeyType.ECDSA: EcdsaPrivateKey,
}


def generate_private_key(key_type: KeyType = KeyType.ED25519) -> PrivateKey:
    """Generate a fresh private key of ``key_type`` (RSA: 2048 bits, ECDSA: P-256)."""
    return _PRIVATE_TYPES[KeyType(key_type)].generate()
