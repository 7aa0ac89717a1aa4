"""The key abstractions: ``KeyType``, ``PublicKey``/``PrivateKey`` and their protobuf forms.

A key travels as the proto2 ``PublicKey``/``PrivateKey`` message ``08 <type> 12 uvarint(len)
Data`` (see ``pb/crypto.proto``); what ``Data`` holds per type is tabled in
:mod:`p2pstack.identity.keys`. Concrete key classes register themselves by ``key_type`` so that
``from_protobuf`` can dispatch. Every malformed input raises
:class:`~p2pstack.errors.InvalidKeyError`.
"""

from __future__ import annotations

import abc
import enum
from typing import ClassVar, Final, Self

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from p2pstack.errors import InvalidKeyError
from p2pstack.identity.pb import crypto_pb2
from p2pstack.identity.peer_id import PeerId
from p2pstack.protobuf import parse_message

MAX_KEY_PROTOBUF_LEN: Final = 16 * 1024
"""Larger serialized keys are rejected before parsing (RSA-8192 private is ~4.7 KiB)."""
MIN_RSA_BITS: Final = 1024
MAX_RSA_BITS: Final = 8192
"""go-libp2p also caps RSA at 8192 bits (its minimum is 2048; we accept 1024 for old peers)."""
DEFAULT_RSA_BITS: Final = 2048


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
    msg = parse_message(message_cls(), data, what="key protobuf", error=InvalidKeyError)
    # proto2 closed enum: an unknown Type value lands in unknown fields, leaving Type unset.
    if not (msg.HasField("Type") and msg.HasField("Data")):
        raise InvalidKeyError("key protobuf lacks a (known) Type or Data field")
    return KeyType(msg.Type), msg.Data


_PUBLIC_TYPES: Final[dict[KeyType, type[PublicKey]]] = {}
_PRIVATE_TYPES: Final[dict[KeyType, type[PrivateKey]]] = {}


class PublicKey(abc.ABC):
    """A libp2p public key. Equal and hashed by its canonical serialized protobuf.

    Concrete subclasses register themselves for :meth:`from_protobuf` by their ``key_type``.
    """

    key_type: ClassVar[KeyType]
    __slots__ = ("_serialized",)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "key_type" in cls.__dict__:
            _PUBLIC_TYPES[cls.key_type] = cls

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
        return self._serialized == other.to_protobuf()

    def __hash__(self) -> int:
        return hash(self._serialized)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_peer_id()}>"


class PrivateKey(abc.ABC):
    """A libp2p private key that can sign; compares by its serialized protobuf.

    Concrete subclasses register themselves for :meth:`from_protobuf` by their ``key_type``.
    """

    key_type: ClassVar[KeyType]
    __slots__ = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "key_type" in cls.__dict__:
            _PRIVATE_TYPES[cls.key_type] = cls

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


def load_spki(data: bytes, what: str) -> object:
    """Parse a DER SubjectPublicKeyInfo (for the key modules). Raises InvalidKeyError."""
    try:
        return serialization.load_der_public_key(bytes(data))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKeyError(f"invalid {what} SubjectPublicKeyInfo: {exc}") from exc


def load_der_private(data: bytes, what: str) -> object:
    """Parse an unencrypted DER private key (for the key modules). Raises InvalidKeyError."""
    try:
        return serialization.load_der_private_key(bytes(data), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InvalidKeyError(f"invalid {what} private key DER: {exc}") from exc


def generate_private_key(key_type: KeyType = KeyType.ED25519) -> PrivateKey:
    """Generate a fresh private key of ``key_type`` (RSA: 2048 bits, ECDSA: P-256)."""
    return _PRIVATE_TYPES[KeyType(key_type)].generate()
