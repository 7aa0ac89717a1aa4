"""The address book: what the node knows of other peers (addresses with expiry, protocols)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from .identity import PeerId
from .multiaddr import Multiaddr

PERMANENT: Final = float("inf")
DEFAULT_TTL: Final = 3600.0
"""Addresses learned from identify or discovery are kept for an hour unless refreshed."""
MAX_ADDRS_PER_PEER: Final = 64


@dataclass
class PeerInfo:
    """Everything known about one peer."""

    addrs: dict[Multiaddr, float] = field(default_factory=dict)
    """Address -> expiry time (monotonic seconds)."""
    protocols: tuple[str, ...] = ()
    agent_version: str = ""
    public_key: bytes | None = None


class PeerStore:
    """Addresses and metadata per peer, with expiry. The clock is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._peers: dict[PeerId, PeerInfo] = {}

    def add_addrs(self, peer: PeerId, addrs: Iterable[Multiaddr], ttl: float = DEFAULT_TTL) -> None:
        """Remember ``addrs`` for ``peer`` (without ``/p2p``) for ``ttl`` seconds.

        A known address keeps the later of its old and new expiry. At most
        :data:`MAX_ADDRS_PER_PEER` addresses are kept; the ones expiring first go.
        """
        info = self._peers.setdefault(peer, PeerInfo())
        expiry = self._clock() + ttl
        for addr in addrs:
            bare = addr.without_peer_id()
            info.addrs[bare] = max(info.addrs.get(bare, 0.0), expiry)
        if len(info.addrs) > MAX_ADDRS_PER_PEER:
            keep = sorted(info.addrs.items(), key=lambda item: item[1], reverse=True)
            info.addrs = dict(keep[:MAX_ADDRS_PER_PEER])

    def addrs(self, peer: PeerId) -> list[Multiaddr]:
        """The unexpired addresses of ``peer``, longest-lived first."""
        info = self._peers.get(peer)
        if info is None:
            return []
        now = self._clock()
        for addr in [a for a, expiry in info.addrs.items() if expiry <= now]:
            del info.addrs[addr]
        return [a for a, _ in sorted(info.addrs.items(), key=lambda item: item[1], reverse=True)]

    def remove_addr(self, peer: PeerId, addr: Multiaddr) -> None:
        """Forget one address of ``peer``."""
        info = self._peers.get(peer)
        if info is not None:
            info.addrs.pop(addr.without_peer_id(), None)

    def set_protocols(self, peer: PeerId, protocols: Iterable[str]) -> None:
        """Record the protocols ``peer`` announced."""
        self._peers.setdefault(peer, PeerInfo()).protocols = tuple(protocols)

    def set_agent(self, peer: PeerId, agent_version: str) -> None:
        """Record the agent version ``peer`` announced."""
        self._peers.setdefault(peer, PeerInfo()).agent_version = agent_version

    def set_public_key(self, peer: PeerId, public_key: bytes) -> None:
        """Record the serialized public key of ``peer``."""
        self._peers.setdefault(peer, PeerInfo()).public_key = public_key

    def info(self, peer: PeerId) -> PeerInfo | None:
        """Everything known about ``peer``, or None."""
        return self._peers.get(peer)

    def peers(self) -> list[PeerId]:
        """Every peer the store knows anything about."""
        return list(self._peers)
