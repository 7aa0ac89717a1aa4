"""Hop and stop messages: typed values and their protobuf encoding (pure, no I/O).

Encoders emit every field that is set, zero-valued enums included (``HopMessage{type=RESERVE}``
is ``08 00``), in field-number order. Decoders accept any bytes and either return a message or
raise :class:`~p2pstack.protocols.relay.errors.RelayMessageError`; addresses that do not parse are
skipped (as go-libp2p does), everything else malformed raises.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from p2pstack.errors import MultiaddrError, PeerIdError
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protobuf import parse_message
from p2pstack.protocols.relay.errors import RelayMessageError
from p2pstack.protocols.relay.pb import circuit_pb2 as pb
from p2pstack.protocols.relay.status import Status

HOP_PROTOCOL: Final = "/libp2p/circuit/relay/0.2.0/hop"
STOP_PROTOCOL: Final = "/libp2p/circuit/relay/0.2.0/stop"
MAX_MESSAGE_SIZE: Final = 4096
"""go's ``maxMessageSize`` and rust's ``MAX_MESSAGE_SIZE``."""
MAX_ADDRS: Final = 64
_MAX_UINT32: Final = (1 << 32) - 1
_MAX_UINT64: Final = (1 << 64) - 1


class HopType(enum.IntEnum):
    """``HopMessage.Type``."""

    RESERVE = 0
    CONNECT = 1
    STATUS = 2


class StopType(enum.IntEnum):
    """``StopMessage.Type``."""

    CONNECT = 0
    STATUS = 1


@dataclass(frozen=True, slots=True)
class Peer:
    """A peer id and (optionally) its addresses."""

    id: PeerId
    addrs: tuple[Multiaddr, ...] = ()


@dataclass(frozen=True, slots=True)
class Limit:
    """Per-circuit limits: ``duration`` seconds and ``data`` bytes per direction; 0 = none."""

    duration: int = 0
    data: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.duration <= _MAX_UINT32:
            raise ValueError("Limit.duration must fit in a uint32")
        if not 0 <= self.data <= _MAX_UINT64:
            raise ValueError("Limit.data must fit in a uint64")

    @property
    def is_unlimited(self) -> bool:
        """True when neither a duration nor a data limit applies."""
        return self.duration == 0 and self.data == 0


@dataclass(frozen=True, slots=True)
class Reservation:
    """A relay's reservation: unix ``expire`` time, its addresses and an optional voucher."""

    expire: int
    addrs: tuple[Multiaddr, ...] = ()
    voucher: bytes | None = None


@dataclass(frozen=True, slots=True)
class HopMessage:
    """A message on the hop protocol. ``status`` is a :class:`Status` or an unknown number."""

    type: HopType
    peer: Peer | None = None
    reservation: Reservation | None = None
    limit: Limit | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class StopMessage:
    """A message on the stop protocol."""

    type: StopType
    peer: Peer | None = None
    limit: Limit | None = None
    status: int | None = None


# ------------------------------------------------------------------------------ encoding


def _peer_pb(peer: Peer) -> pb.Peer:
    return pb.Peer(id=peer.id.multihash, addrs=[a.to_bytes() for a in peer.addrs[:MAX_ADDRS]])


def _limit_pb(limit: Limit) -> pb.Limit:
    return pb.Limit(duration=limit.duration, data=limit.data)


def encode_hop(message: HopMessage) -> bytes:
    """Serialize a hop message (without the length prefix)."""
    out = pb.HopMessage(type=pb.HopMessage.Type.ValueType(int(message.type)))
    if message.peer is not None:
        out.peer.CopyFrom(_peer_pb(message.peer))
    if message.reservation is not None:
        rsvp = message.reservation
        out.reservation.expire = rsvp.expire
        out.reservation.addrs.extend(a.to_bytes() for a in rsvp.addrs[:MAX_ADDRS])
        if rsvp.voucher is not None:
            out.reservation.voucher = rsvp.voucher
    if message.limit is not None:
        out.limit.CopyFrom(_limit_pb(message.limit))
    if message.status is not None:
        out.status = pb.Status.ValueType(int(message.status))
    return out.SerializeToString()


def encode_stop(message: StopMessage) -> bytes:
    """Serialize a stop message (without the length prefix)."""
    out = pb.StopMessage(type=pb.StopMessage.Type.ValueType(int(message.type)))
    if message.peer is not None:
        out.peer.CopyFrom(_peer_pb(message.peer))
    if message.limit is not None:
        out.limit.CopyFrom(_limit_pb(message.limit))
    if message.status is not None:
        out.status = pb.Status.ValueType(int(message.status))
    return out.SerializeToString()


# ------------------------------------------------------------------------------ decoding


def _addrs(raw: Iterable[bytes]) -> tuple[Multiaddr, ...]:
    out: list[Multiaddr] = []
    for data in list(raw)[:MAX_ADDRS]:
        try:
            out.append(Multiaddr.from_bytes(data))
        except MultiaddrError:
            continue
    return tuple(out)


def _peer(message: pb.Peer) -> Peer:
    if not message.HasField("id"):
        raise RelayMessageError("Peer without an id")
    try:
        peer_id = PeerId.from_bytes(message.id)
    except PeerIdError as exc:
        raise RelayMessageError(f"invalid peer id in Peer: {exc}") from exc
    return Peer(peer_id, _addrs(message.addrs))


def _limit(message: pb.Limit) -> Limit:
    return Limit(duration=message.duration, data=message.data)


def _status(value: int) -> int:
    try:
        return Status(value)
    except ValueError:
        return value


def _parse(cls: type[pb.HopMessage] | type[pb.StopMessage], data: bytes, what: str) -> object:
    if len(data) > MAX_MESSAGE_SIZE:
        raise RelayMessageError(f"{what} of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}")
    message = parse_message(cls(), data, what=what, error=RelayMessageError)
    if not message.HasField("type"):
        raise RelayMessageError(f"{what} without a type")
    return message


def decode_hop(data: bytes) -> HopMessage:
    """Parse a hop message. Raises RelayMessageError."""
    message = _parse(pb.HopMessage, data, "HopMessage")
    assert isinstance(message, pb.HopMessage)
    try:
        kind = HopType(message.type)
    except ValueError:
        raise RelayMessageError(f"unknown HopMessage type {message.type}") from None
    reservation = None
    if message.HasField("reservation"):
        rsvp = message.reservation
        reservation = Reservation(
            expire=rsvp.expire,
            addrs=_addrs(rsvp.addrs),
            voucher=rsvp.voucher if rsvp.HasField("voucher") else None,
        )
    return HopMessage(
        type=kind,
        peer=_peer(message.peer) if message.HasField("peer") else None,
        reservation=reservation,
        limit=_limit(message.limit) if message.HasField("limit") else None,
        status=_status(message.status) if message.HasField("status") else None,
    )


def decode_stop(data: bytes) -> StopMessage:
    """Parse a stop message. Raises RelayMessageError."""
    message = _parse(pb.StopMessage, data, "StopMessage")
    assert isinstance(message, pb.StopMessage)
    try:
        kind = StopType(message.type)
    except ValueError:
        raise RelayMessageError(f"unknown StopMessage type {message.type}") from None
    return StopMessage(
        type=kind,
        peer=_peer(message.peer) if message.HasField("peer") else None,
        limit=_limit(message.limit) if message.HasField("limit") else None,
        status=_status(message.status) if message.HasField("status") else None,
    )
