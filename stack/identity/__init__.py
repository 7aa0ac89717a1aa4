"""Identities: key pairs, libp2p key protobufs, peer ids and key files."""

from .peer_id import PeerId as PeerId

__all__ = ["PeerId"]
