"""The address book: what the node knows of other peers (addresses with expiry, protocols).

Addresses come in two kinds, kept apart: unverified ones (identify's listen addresses,
discovery, dials, the user) and certified ones, from the peer's latest signed peer record
(:mod:`p2pstack.identity.record`), which only the peer's key can have produced.
:meth:`PeerStore.addrs` lists both; :meth:`PeerStore.certified_addrs` only the latter, which
the dialer tries first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from p2pstack.errors import EnvelopeDecodeError
from p2pstack.identity import PeerId
from p2pstack.identity.record import SignedPeerRecord, open_peer_record
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
    record: SignedPeerRecord | None = None
    """The latest verified signed peer record (kept after it expires, for its seq)."""
    record_expiry: float = 0.0
    """When the record's (certified) addresses expire (monotonic seconds)."""

    def expiries(self, now: float) -> dict[Multiaddr, float]:
        """Every address (unverified and unexpired certified ones) -> its expiry."""
        out = dict(self.addrs)
        if self.record is not None and self.record_expiry > now:
            for addr in self.record.addrs:
                out[addr] = max(out.get(addr, 0.0), self.record_expiry)
        return out


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

        def last_expiry(peer: PeerId) -> float:
            info = self._peers[peer]
            return max([*info.addrs.values(), info.record_expiry], default=0.0)

        victim = min(self._peers, key=last_expiry)
        del self._peers[victim]

    def forget(self, peer: PeerId) -> None:
        """Remove everything known about ``peer``."""
        self._peers.pop(peer, None)

    def addrs(self, peer: PeerId) -> list[Multiaddr]:
        """The unexpired addresses of ``peer`` (unverified and certified) in dialling order.

        Addresses that worked last come first (most recent success first), then untried
        ones (longest-lived first), then those that failed last (oldest failure first). The
        dialer moves the certified ones (:meth:`certified_addrs`) to the front.
        """
        info = self._peers.get(peer)
        if info is None:
            return []
        now = self._clock()
        for addr in [a for a, expiry in info.addrs.items() if expiry <= now]:
            del info.addrs[addr]
            info.last_success.pop(addr, None)
            info.last_failure.pop(addr, None)
        expiries = info.expiries(now)

        def order(item: tuple[Multiaddr, float]) -> tuple[int, float]:
            addr, expiry = item
            success = info.last_success.get(addr, -1.0)
            failure = info.last_failure.get(addr, -1.0)
            if success > failure:
                return (0, -success)
            if failure >= 0:
                return (2, failure)
            return (1, -expiry)

        return [a for a, _ in sorted(expiries.items(), key=order)]

    def mark_success(self, peer: PeerId, addr: Multiaddr) -> None:
        """Record that dialling ``addr`` worked (it is tried first next time)."""
        info = self._peers.get(peer)
        bare = addr.without_peer_id()
        if info is not None and bare in info.expiries(self._clock()):
            info.last_success[bare] = self._clock()

    def mark_failure(self, peer: PeerId, addr: Multiaddr) -> None:
        """Record that dialling ``addr`` failed (it is tried last next time)."""
        info = self._peers.get(peer)
        bare = addr.without_peer_id()
        if info is not None and bare in info.expiries(self._clock()):
            info.last_failure[bare] = self._clock()

    def remove_addr(self, peer: PeerId, addr: Multiaddr) -> None:
        """Forget one unverified address of ``peer`` (a certified one stays until the
        record expires or a newer one replaces it)."""
        info = self._peers.get(peer)
        if info is not None:
            info.addrs.pop(addr.without_peer_id(), None)

    def consume_peer_record(self, record: SignedPeerRecord, ttl: float = DEFAULT_TTL) -> bool:
        """Store a verified record's addresses as the certified addresses of its peer for
        ``ttl`` seconds, unless the store holds a newer one.

        A higher ``seq`` replaces the stored record (its addresses with it); the same record
        again only refreshes the expiry; a lower ``seq``, or another record with the same
        ``seq``, is ignored. Returns whether ``record`` was stored or refreshed. The caller
        verified ``record`` (:func:`~p2pstack.identity.record.open_peer_record`, with the
        connection's peer as ``expected_peer``).
        """
        info = self._peer(record.peer_id)
        stored = info.record
        if stored is not None and (
            record.seq < stored.seq or (record.seq == stored.seq and record.data != stored.data)
        ):
            return False
        expiry = self._clock() + ttl
        if stored is not None and stored.data == record.data:
            expiry = max(expiry, info.record_expiry)
        info.record, info.record_expiry = record, expiry
        return True

    def certified_addrs(self, peer: PeerId) -> list[Multiaddr]:
        """The addresses of ``peer``'s latest signed peer record, unless it expired."""
        record = self.signed_record(peer)
        return list(record.addrs) if record is not None else []

    def signed_record(self, peer: PeerId) -> SignedPeerRecord | None:
        """``peer``'s latest signed peer record (its ``data`` are the envelope bytes to pass
        on), unless its addresses expired."""
        info = self._peers.get(peer)
        if info is None or info.record is None or info.record_expiry <= self._clock():
            return None
        return info.record

    def export_records(self) -> dict[str, str]:
        """The unexpired signed peer records as JSON-ready data: ``{peer id: envelope hex}``."""
        out: dict[str, str] = {}
        for peer in self.peers():
            record = self.signed_record(peer)
            if record is not None:
                out[str(peer)] = record.data.hex()
        return out

    def import_records(self, data: Mapping[str, str], ttl: float = DEFAULT_TTL) -> None:
        """Verify and store records written by :meth:`export_records` for ``ttl`` seconds
        (each goes through :meth:`consume_peer_record`: an older one than stored is ignored).

        Raises:
            ProtocolError: (``EnvelopeDecodeError``, ``SignedEnvelopeError``,
                ``PeerRecordError``, ``PeerIdError``) an entry is malformed or does not verify
                as its peer's record; nothing was added.
        """
        for record in parse_records(data):
            self.consume_peer_record(record, ttl)

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
        (``.../p2p-circuit``) are addresses like any other and included. Certified addresses
        are exported with their signed records (:meth:`export_records`), not here.
        """
        out: dict[str, list[str]] = {}
        for peer in self.peers():
            info = self._peers[peer]
            addrs = [
                str(a)
                for a in self.addrs(peer)
                if a in info.addrs
                and (permanent is None or (info.addrs[a] == PERMANENT) is permanent)
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


def parse_records(data: Mapping[str, str]) -> list[SignedPeerRecord]:
    """Verify records written by :meth:`PeerStore.export_records` (each must be a valid
    record of the peer it is filed under). Raises as :meth:`PeerStore.import_records`."""
    records: list[SignedPeerRecord] = []
    for peer, envelope in data.items():
        try:
            raw = bytes.fromhex(envelope)
        except (TypeError, ValueError) as exc:
            raise EnvelopeDecodeError(f"record of {peer} is not hex: {exc}") from exc
        records.append(open_peer_record(raw, expected_peer=PeerId.from_string(peer)))
    return records
