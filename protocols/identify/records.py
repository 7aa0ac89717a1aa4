"""Signed peer records in identify: ours for ``signedPeerRecord``, the peers' into the store.

Our record (:mod:`p2pstack.identity.record`) lists our announced addresses; it is sealed once
and sealed again, with a higher seq, when those addresses change. A peer's record is verified
(signature, signer == the record's peer == the connection's authenticated peer, size limits)
and its addresses stored as certified (:meth:`PeerStore.consume_peer_record`); a record that
fails is logged and counted, and the peer's listen addresses stay unverified only. Pure: the
identify service passes in the time.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Final, Literal

from p2pstack.errors import ProtocolError
from p2pstack.host.peerstore import DEFAULT_TTL, PeerStore
from p2pstack.identity import Identity, PeerId
from p2pstack.identity.record import (
    SeqCounter,
    SignedPeerRecord,
    open_peer_record,
    seal_peer_record,
)
from p2pstack.multiaddr import Multiaddr

logger: Final = logging.getLogger("p2pstack.identify")

Outcome = Literal["certified", "stale", "rejected", "absent"]
"""What became of a peer's record: stored (or refreshed) as certified; older than the stored
one (ignored); invalid (refused); none sent."""


class PeerRecords:
    """Our signed peer record, and the verification of the ones peers send.

    ``counts`` tallies the :data:`Outcome` of every identify message received.
    """

    def __init__(self) -> None:
        self._seq = SeqCounter()
        self._ours: SignedPeerRecord | None = None
        self._ours_addrs: tuple[Multiaddr, ...] | None = None
        self.counts: Counter[Outcome] = Counter()

    def ours(self, identity: Identity, addrs: Sequence[Multiaddr], now_ns: int) -> SignedPeerRecord:
        """Our record of ``addrs``: the last one while they are unchanged, else a new one with a
        higher seq (``now_ns``: ``time.time_ns()``)."""
        key = tuple(addrs)
        if self._ours is None or self._ours_addrs != key:
            self._ours = seal_peer_record(identity, key, self._seq.next(now_ns))
            self._ours_addrs = key
        return self._ours

    def consume(
        self, peerstore: PeerStore, peer: PeerId, data: bytes | None, ttl: float = DEFAULT_TTL
    ) -> Outcome:
        """Verify ``data`` (the ``signedPeerRecord`` that ``peer``, authenticated, sent) and
        store its addresses as ``peer``'s certified ones for ``ttl`` seconds."""
        outcome = self._consume(peerstore, peer, data, ttl)
        self.counts[outcome] += 1
        return outcome

    def _consume(
        self, peerstore: PeerStore, peer: PeerId, data: bytes | None, ttl: float
    ) -> Outcome:
        if data is None:
            return "absent"
        try:
            record = open_peer_record(data, expected_peer=peer)
        except ProtocolError as exc:
            logger.info(
                "rejected the signed peer record of %s (%s: %s); its addresses stay unverified",
                peer.short(),
                type(exc).__name__,
                exc,
            )
            return "rejected"
        if not peerstore.consume_peer_record(record, ttl):
            logger.debug(
                "ignored a signed peer record of %s with seq %d: not newer than the stored one",
                peer.short(),
                record.seq,
            )
            return "stale"
        return "certified"
