"""Signed peer records (libp2p RFC 0003): a peer's addresses, signed by the peer itself.

A record is ``PeerRecord{peer_id, seq, addresses}`` sealed in a signed envelope
(:mod:`p2pstack.identity.envelope`) with domain ``libp2p-peer-record`` and payload type
``03 01`` — the form go-, rust- and js-libp2p put in identify's ``signedPeerRecord``. A newer
record of a peer has a higher ``seq``; :class:`SeqCounter` derives ours from the wall clock
in nanoseconds (as go does) so it also increases across restarts. Pure: no I/O, time passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from p2pstack.errors import (
    EnvelopeDecodeError,
    InvalidConfigError,
    MultiaddrError,
    PeerIdError,
    PeerRecordError,
)
from p2pstack.identity.envelope import SignedEnvelope, open_envelope, seal
from p2pstack.identity.identity import Identity
from p2pstack.identity.pb import peer_record_pb2 as pb
from p2pstack.identity.peer_id import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protobuf import parse_message

PEER_RECORD_DOMAIN: Final = "libp2p-peer-record"
PEER_RECORD_PAYLOAD_TYPE: Final = b"\x03\x01"
"""multicodec 0x0301 as two big-endian bytes (what go, rust and js write), not as a varint."""
MAX_RECORD_ADDRS: Final = 64
"""A record with more addresses is refused (identify carries at most 64 listen addresses)."""
MAX_RECORD_ADDR_SIZE: Final = 512
"""A record holding a longer binary address is refused."""
MAX_SEQ: Final = 2**64 - 1


@dataclass(frozen=True, slots=True)
class PeerRecord:
    """The payload: ``peer_id``'s addresses (without ``/p2p``) as of ``seq``."""

    peer_id: PeerId
    seq: int
    addrs: tuple[Multiaddr, ...]

    def to_bytes(self) -> bytes:
        """The marshalled ``PeerRecord`` protobuf (fields 1, 2, 3 in order)."""
        return pb.PeerRecord(
            peer_id=self.peer_id.multihash,
            seq=self.seq,
            addresses=[pb.PeerRecord.AddressInfo(multiaddr=a.to_bytes()) for a in self.addrs],
        ).SerializeToString()

    @classmethod
    def from_bytes(cls, data: bytes) -> PeerRecord:
        """Parse a record payload. Addresses this stack cannot parse are skipped (the record
        stays valid for the others); duplicates are dropped.

        Raises:
            EnvelopeDecodeError: malformed, more than :data:`MAX_RECORD_ADDRS` addresses, or
                one longer than :data:`MAX_RECORD_ADDR_SIZE` bytes.
        """
        message = parse_message(
            pb.PeerRecord(), data, what="peer record", error=EnvelopeDecodeError
        )
        if len(message.addresses) > MAX_RECORD_ADDRS:
            raise EnvelopeDecodeError(
                f"peer record with {len(message.addresses)} addresses (at most {MAX_RECORD_ADDRS})"
            )
        try:
            peer = PeerId.from_bytes(message.peer_id)
        except PeerIdError as exc:
            raise EnvelopeDecodeError(f"peer record peer id: {exc}") from exc
        addrs: dict[Multiaddr, None] = {}
        for info in message.addresses:
            if len(info.multiaddr) > MAX_RECORD_ADDR_SIZE:
                raise EnvelopeDecodeError(
                    f"peer record address of {len(info.multiaddr)} bytes "
                    f"(at most {MAX_RECORD_ADDR_SIZE})"
                )
            try:
                addrs[Multiaddr.from_bytes(info.multiaddr).without_peer_id()] = None
            except MultiaddrError:
                continue
        return cls(peer, message.seq, tuple(addrs))


@dataclass(frozen=True, slots=True)
class SignedPeerRecord:
    """A verified (or freshly sealed) record with its envelope and the envelope's bytes."""

    record: PeerRecord
    envelope: SignedEnvelope
    data: bytes
    """The marshalled envelope: what identify sends and the peer store exports."""

    @property
    def peer_id(self) -> PeerId:
        return self.record.peer_id

    @property
    def seq(self) -> int:
        return self.record.seq

    @property
    def addrs(self) -> tuple[Multiaddr, ...]:
        return self.record.addrs


def seal_peer_record(identity: Identity, addrs: Iterable[Multiaddr], seq: int) -> SignedPeerRecord:
    """Our record of ``addrs`` (``/p2p`` suffixes removed, duplicates dropped, at most
    :data:`MAX_RECORD_ADDRS`) as of ``seq``, signed by ``identity``.

    Raises:
        InvalidConfigError: ``seq`` is not a uint64.
    """
    if not 0 <= seq <= MAX_SEQ:
        raise InvalidConfigError(f"peer record seq {seq} is not a uint64")
    bare = tuple(dict.fromkeys(a.without_peer_id() for a in addrs))[:MAX_RECORD_ADDRS]
    record = PeerRecord(identity.peer_id, seq, bare)
    envelope = seal(identity, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, record.to_bytes())
    return SignedPeerRecord(record, envelope, envelope.to_bytes())


def open_peer_record(data: bytes, *, expected_peer: PeerId | None = None) -> SignedPeerRecord:
    """Parse and verify a signed peer record (bounded work: one size check, one parse of at
    most 4096 bytes, one signature check).

    The envelope must verify under ``libp2p-peer-record``/``03 01``, its signer must be the
    peer the record names, and that peer must be ``expected_peer`` (the authenticated peer
    of the connection the record came over) when given.

    Raises:
        EnvelopeDecodeError: the bytes or the record are malformed or over a limit.
        SignedEnvelopeError: bad signature, key or payload type.
        PeerRecordError: signed by another key than the record's peer, or not
            ``expected_peer``'s record.
    """
    envelope = open_envelope(data, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE)
    record = PeerRecord.from_bytes(envelope.payload)
    if envelope.signer != record.peer_id:
        raise PeerRecordError(
            f"peer record of {record.peer_id} is signed by another key ({envelope.signer})"
        )
    if expected_peer is not None and record.peer_id != expected_peer:
        raise PeerRecordError(f"peer record of {record.peer_id} came from {expected_peer}")
    return SignedPeerRecord(record, envelope, bytes(data))


class SeqCounter:
    """Sequence numbers for our own records: the wall clock in nanoseconds, but always above
    the previous one (two records in one nanosecond, or a clock stepped back)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, now_ns: int) -> int:
        """A seq above every earlier one; ``now_ns`` is ``time.time_ns()``."""
        self._last = min(max(now_ns, self._last + 1), MAX_SEQ)
        return self._last
