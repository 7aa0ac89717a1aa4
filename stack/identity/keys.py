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
:class:`~p2pstack.errors.InvalidKeyError`.
"""

from __future__ import annotations

from p2pstack.identity.key_base import (
    DEFAULT_RSA_BITS as DEFAULT_RSA_BITS,
    MAX_KEY_PROTOBUF_LEN as MAX_KEY_PROTOBUF_LEN,
    MAX_RSA_BITS as MAX_RSA_BITS,
    MIN_RSA_BITS as MIN_RSA_BITS,
    KeyType as KeyType,
    PrivateKey as PrivateKey,
    PublicKey as PublicKey,
    generate_private_key as generate_private_key,
)
from p2pstack.identity.key_ecdsa import (
    EcdsaPrivateKey as EcdsaPrivateKey,
    EcdsaPublicKey as EcdsaPublicKey,
    Secp256k1PrivateKey as Secp256k1PrivateKey,
    Secp256k1PublicKey as Secp256k1PublicKey,
)
from p2pstack.identity.key_ed25519 import (
    Ed25519PrivateKey as Ed25519PrivateKey,
    Ed25519PublicKey as Ed25519PublicKey,
)
from p2pstack.identity.key_rsa import RsaPrivateKey as RsaPrivateKey, RsaPublicKey as RsaPublicKey
