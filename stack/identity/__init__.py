"""Identities: key pairs, libp2p key protobufs, peer ids and key files."""

from p2pstack.identity.identity import Identity as Identity
from p2pstack.identity.keys import (
    EcdsaPrivateKey as EcdsaPrivateKey,
    EcdsaPublicKey as EcdsaPublicKey,
    Ed25519PrivateKey as Ed25519PrivateKey,
    Ed25519PublicKey as Ed25519PublicKey,
    KeyType as KeyType,
    PrivateKey as PrivateKey,
    PublicKey as PublicKey,
    RsaPrivateKey as RsaPrivateKey,
    RsaPublicKey as RsaPublicKey,
    Secp256k1PrivateKey as Secp256k1PrivateKey,
    Secp256k1PublicKey as Secp256k1PublicKey,
    generate_private_key as generate_private_key,
)
from p2pstack.identity.peer_id import PeerId as PeerId

__all__ = [
    "EcdsaPrivateKey",
    "EcdsaPublicKey",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "Identity",
    "KeyType",
    "PeerId",
    "PrivateKey",
    "PublicKey",
    "RsaPrivateKey",
    "RsaPublicKey",
    "Secp256k1PrivateKey",
    "Secp256k1PublicKey",
    "generate_private_key",
]
