"""Ed25519 keys: 32-byte raw public keys, ``seed || public`` private keys, RFC 8032 signatures."""

from __future__ import annotations

from typing import Self, final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from p2pstack.errors import InvalidKeyError
from p2pstack.identity.key_base import (
    KeyType,
    PrivateKey,
    PublicKey,
)


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
        if key.public_key.raw_bytes() != data[32:]:
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
