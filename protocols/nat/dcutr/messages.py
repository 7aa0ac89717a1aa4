"""DCUtR messages: the typed value and its protobuf encoding (pure, no I/O, no trio).

``HolePunch{type: CONNECT=100 | SYNC=300, ObsAddrs: repeated bytes}`` (libp2p/specs
relay/DCUtR.md), each length-prefixed on the stream. The decoder accepts any bytes and either
returns a :class:`HolePunch` or raises :class:`DCUtRMessageError`. Its work is bounded: a
message is at most :data:`MAX_MESSAGE_SIZE` bytes (checked by the reader before parsing), at
most ``max_addrs`` addresses are kept (the rest are counted in ``dropped``), an address longer
than ``max_addr_len`` bytes or one that does not parse is dropped (as go-libp2p skips them).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from p2pstack.errors import DecodeError, MultiaddrError, ProtocolError
from p2pstack.multiaddr import Multiaddr
from p2pstack.protobuf import parse_message
from p2pstack.protocols.nat.dcutr.pb import holepunch_pb2 as pb

PROTOCOL_ID: Final = "/libp2p/dcutr"
MAX_MESSAGE_SIZE: Final = 4096
"""The spec's limit on an encoded message (length prefix excluded)."""
MAX_ADDRS: Final = 32
"""Addresses kept from one CONNECT by default (go keeps at most its own candidate count)."""
MAX_ADDR_LEN: Final = 256
"""Longest binary multiaddr kept by default."""


class DCUtRMessageError(DecodeError):
    """A DCUtR message is malformed (not a HolePunch, or no known type)."""


class DCUtRProtocolError(ProtocolError):
    """The peer sent a valid message that the exchange does not allow at this point."""


class MessageType(enum.IntEnum):
    """``HolePunch.Type``."""

    CONNECT = 100
    SYNC = 300


@dataclass(frozen=True, slots=True)
class HolePunch:
    """One DCUtR message. ``addrs`` is empty for SYNC; ``dropped`` counts the received
    addresses the decoder did not keep (unparseable, too long, or beyond the limit)."""

    type: MessageType
    addrs: tuple[Multiaddr, ...] = ()
    dropped: int = 0


def connect(addrs: Iterable[Multiaddr]) -> HolePunch:
    """A CONNECT carrying ``addrs``."""
    return HolePunch(MessageType.CONNECT, tuple(addrs))


SYNC: Final = HolePunch(MessageType.SYNC)


def encode(message: HolePunch) -> bytes:
    """The protobuf bytes of ``message`` (no length prefix)."""
    out = pb.HolePunch(type=int(message.type))  # type: ignore[arg-type]
    out.ObsAddrs.extend(a.to_bytes() for a in message.addrs)
    return out.SerializeToString()


def decode(
    data: bytes | bytearray | memoryview,
    *,
    max_addrs: int = MAX_ADDRS,
    max_addr_len: int = MAX_ADDR_LEN,
) -> HolePunch:
    """Parse one message (the length prefix already removed).

    Raises:
        DCUtRMessageError: not a HolePunch message, or its type is missing or unknown.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise DCUtRMessageError(f"DCUtR message of {len(data)} bytes (limit {MAX_MESSAGE_SIZE})")
    message = parse_message(pb.HolePunch(), data, what="DCUtR message", error=DCUtRMessageError)
    if not message.HasField("type"):  # absent, or a number proto2 keeps as an unknown field
        raise DCUtRMessageError("DCUtR message without a known type")
    kind = MessageType(message.type)
    addrs: list[Multiaddr] = []
    dropped = 0
    for raw in message.ObsAddrs:
        if len(addrs) >= max_addrs or len(raw) > max_addr_len:
            dropped += 1
            continue
        try:
            addr = Multiaddr.from_bytes(raw)
        except MultiaddrError:
            dropped += 1
            continue
        if addr not in addrs:
            addrs.append(addr)
    return HolePunch(kind, tuple(addrs), dropped)
