"""RSA keys: DER SubjectPublicKeyInfo / PKCS#1, PKCS#1 v1.5 SHA-256 signatures."""

from __future__ import annotations

from typing import Final, Self, final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from p2pstack.errors import InvalidKeyError
from p2pstack.identity.key_base import (
    DEFAULT_RSA_BITS,
    MAX_RSA_BITS,
    MIN_RSA_BITS,
    KeyType,
    PrivateKey,
    PublicKey,
    load_der_private,
    load_spki,
)

MAX_RSA_PUBLIC_EXPONENT: Final = (1 << 31) - 1
"""Go's crypto/rsa refuses larger exponents; huge ones would make verification a DoS vector."""

MAX_RSA_PRIVATE_DER_LEN: Final = 5 * 1024
"""An RSA-8192 PKCS#1 private key is about 4.7 KiB of DER."""

_PKCS1V15: Final = padding.PKCS1v15()

_SHA256: Final = hashes.SHA256()


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
        key = load_spki(data, "RSA")
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
        key = load_der_private(data, "RSA")
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
