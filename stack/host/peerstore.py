"""The address book: what the node knows of other peers (addresses with expiry, protocols)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr

PERMANENT: Final = float("inf")
"""The TTL of an address that never expires: the default of :meth:`PeerStore.add_addrs`."""
DEFAULT_TTL: Final = 3600.0
"""Addresses learned from identify or a dial are kept for an hour unless refreshed."""
MAX_ADDRS_PER_PEER: Final = 64
MAX_PEERS: Final = 4096
"""Beyond this many peers the store forgets those whose addresses expire first."""


@dataclass
class PeerInfo:
    """Everything known about one peer."""

    addrs: dict[Multiaddr, float] = field(default_factory=dict)
    """Address -> expiry time (monotonic seconds)."""
    protocols: tuple[str, ...] = ()
    agent_version: str = ""
    public_key: bytes | None = None
    last_success: dict[Multiaddr, float] = field(default_factory=dict)
    last_failure: dict[Multiaddr, float] = field(default_factory=dict)


class PeerStore:
    """Addresses and metadata per peer, with expiry. The clock is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._peers: dict[PeerId, PeerInfo] = {}

    def add_addrs(self, peer: PeerId, addrs: Iterable[Multiaddr], ttl: float = PERMANENT) -> None:
        """Remember ``addrs`` for ``peer`` (without ``/p2p``) for ``ttl`` seconds.

        Addresses the user adds are permanent unless given a ``ttl``; the node's own
        sources pass one (identify and successful dials :data:`DEFAULT_TTL`, discovery the
        announcement's). A known address keeps the later of its old and new expiry. At most
        :data:`MAX_ADDRS_PER_PEER` addresses are kept; the ones expiring first go.
        """
        info = self._peer(peer)
        expiry = self._clock() + ttl
        for addr in addrs:
            bare = addr.without_peer_id()
            info.addrs[bare] = max(info.addrs.get(bare, 0.0), expiry)
        if len(info.addrs) > MAX_ADDRS_PER_PEER:
            keep = sorted(info.addrs.items(), key=lambda item: item[1], reverse=True)
            info.addrs = dict(keep[:MAX_ADDRS_PER_PEER])
            for marks in (info.last_success, info.last_failure):
                for stale in [a for a in marks if a not in info.addrs]:
                    del marks[stale]

    def _peer(self, peer: PeerId) -> PeerInfo:
        """The entry of ``peer``, created (and the store bounded) if new."""
        info = self._peers.get(peer)
        if info is None:
            if len(self._peers) >= MAX_PEERS:
                self._evict()
            info = self._peers[peer] = PeerInfo()
        return info

    def _evict(self) -> None:
        """Drop the peer whose addresses expire first (peers without addresses first)."""
        victim = min(self._peers, key=lambda p: max(self._peers[p].addrs.values(), default=0.0))
        del self._peers[victim]

    def forget(self, peer: PeerId) -> None:
        """Remove everything known about ``peer``."""
        self._peers.pop(peer, None)

    def addrs(self, peer: PeerId) -> list[Multiaddr]:
        """The unexpired addresses of ``peer`` in dialling order.

        Addresses that worked last come first (most recent success first), then untried
        ones (longest-lived first), then those that failed last (oldest failure first).
        """
        info = self._peers.get(peer)
        if info is None:
            return []
        now = self._clock()
        for addr in [a for a, expiry in info.addrs.items() if expiry <= now]:
            del info.addrs[addr]
            info.last_success.pop(addr, None)
            info.last_failure.pop(addr, None)

        def order(item: tuple[Multiaddr, float]) -> tuple[int, float]:
            addr, expiry = item
            success = info.last_success.get(addr, -1.0)
            failure = info.last_failure.get(addr, -1.0)
            if success > failure:
                return (0, -success)
            if failure >= 0:
                return (2, failure)
            return (1, -expiry)

        return [a for a, _ in sorted(info.addrs.items(), key=order)]

    def mark_success(self, peer: PeerId, addr: Multiaddr) -> None:
        """Record that dialling ``addr`` worked (it is tried first next time)."""
        info = self._peers.get(peer)
        bare = addr.without_peer_id()
        if info is not None and bare in info.addrs:
            info.last_success[bare] = self._clock()

    def mark_failure(self, peer: PeerId, addr: Multiaddr) -> None:
        """Record that dialling ``addr`` failed (it is tried last next time)."""
        info = self._peers.get(peer)
        bare = addr.without_peer_id()
        if info is not None and bare in info.addrs:
            info.last_failure[bare] = self._clock()

    def remove_addr(self, peer: PeerId, addr: Multiaddr) -> None:
        """Forget one address of ``peer``."""
        info = self._peers.get(peer)
        if info is not None:
            info.addrs.pop(addr.without_peer_id(), None)

    def set_protocols(self, peer: PeerId, protocols: Iterable[str]) -> None:
        """Record the protocols ``peer`` announced."""
        self._peer(peer).protocols = tuple(protocols)

    def set_agent(self, peer: PeerId, agent_version: str) -> None:
        """Record the agent version ``peer`` announced."""
        self._peer(peer).agent_version = agent_version

    def set_public_key(self, peer: PeerId, public_key: bytes) -> None:
        """Record the serialized public key of ``peer``."""
        self._peer(peer).public_key = public_key

    def info(self, peer: PeerId) -> PeerInfo | None:
        """Everything known about ``peer``, or None."""
        return self._peers.get(peer)

    def peers(self) -> list[PeerId]:
        """Every peer the store knows anything about."""
        return list(self._peers)

    def export_addrs(self, *, permanent: bool | None = None) -> dict[str, list[str]]:
        """The unexpired addresses of every peer as JSON-ready data: ``{peer id: [addr]}``.

        ``permanent``: True for the addresses without expiry only (those the user added),
        False for the expiring ones only, None for all. Relayed addresses
        (``.../p2p-circuit``) are addresses like any other and included.
        """
        out: dict[str, list[str]] = {}
        for peer in self.peers():
            info = self._peers[peer]
            addrs = [
                str(a)
                for a in self.addrs(peer)
                if permanent is None or (info.addrs[a] == PERMANENT) is permanent
            ]
            if addrs:
                out[str(peer)] = addrs
        return out

    def import_addrs(self, data: Mapping[str, Iterable[str]], ttl: float = DEFAULT_TTL) -> None:
        """Remember addresses written by :meth:`export_addrs` for ``ttl`` seconds.

        Raises:
            PeerIdError, MultiaddrError: malformed data; nothing was added.
        """
        parsed = [
            (PeerId.from_string(peer), [Multiaddr(a) for a in addrs])
            for peer, addrs in data.items()
        ]
        for peer, addrs in parsed:
            self.add_addrs(peer, addrs, ttl)
