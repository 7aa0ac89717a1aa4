"""Identities: key pairs, libp2p key protobufs, peer ids and key files."""

from .identity import Identity as Identity
from .keys import EcdsaPrivateKey as EcdsaPrivateKey
from .keys import EcdsaPublicKey as EcdsaPublicKey
from .keys import Ed25519PrivateKey as Ed25519PrivateKey
from .keys import Ed25519PublicKey as Ed25519PublicKey
from .keys import KeyType as KeyType
from .keys import PrivateKey as PrivateKey
from .keys import PublicKey as PublicKey
from .keys import RsaPrivateKey as RsaPrivateKey
from .keys import RsaPublicKey as RsaPublicKey
from .keys import Secp256k1PrivateKey as Secp256k1PrivateKey
from .keys import Secp256k1PublicKey as Secp256k1PublicKey
from .keys import generate_private_key as generate_private_key
from .peer_id import PeerId as PeerId

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
