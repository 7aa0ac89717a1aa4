"""AutoNAT v1 messages (``/libp2p/autonat/1.0.0``): typed values and their encoding (pure).

One delimited ``Message`` goes each way: the client's ``DIAL`` (its peer id and addresses),
the server's ``DIAL_RESPONSE`` (a status, a text, the address that worked). Decoders accept
any bytes and return a value or raise :class:`AutoNATDecodeError`; addresses that do not
parse are skipped, at most :data:`MAX_ADDRS` are kept.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from p2pstack.errors import MultiaddrError, PeerIdError
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protobuf import parse_message, text
from p2pstack.protocols.nat.autonat.errors import AutoNATDecodeError
from p2pstack.protocols.nat.autonat.pb import autonat_v1_pb2 as pb

logger: Final = logging.getLogger("p2pstack.autonat")

PROTOCOL_V1: Final = "/libp2p/autonat/1.0.0"
MAX_MESSAGE_SIZE: Final = 4096
"""go-libp2p reads v1 messages of at most 4096 bytes."""
MAX_ADDRS: Final = 32
MAX_TEXT: Final = 256


class V1Status(enum.IntEnum):
    """``Message.ResponseStatus``."""

    OK = 0
    E_DIAL_ERROR = 100
    E_DIAL_REFUSED = 101
    E_BAD_REQUEST = 200
    E_INTERNAL_ERROR = 300


@dataclass(frozen=True, slots=True)
class V1Dial:
    """A dial request: who to dial back and where."""

    peer_id: PeerId
    addrs: tuple[Multiaddr, ...]


@dataclass(frozen=True, slots=True)
class V1DialResponse:
    """A dial response; ``addr`` is the address that worked (``OK`` only)."""

    status: V1Status
    text: str = ""
    addr: Multiaddr | None = None


def encode_v1_dial(peer_id: PeerId, addrs: Iterable[Multiaddr]) -> bytes:
    """Serialize a ``DIAL`` for ``peer_id`` at ``addrs`` (at most :data:`MAX_ADDRS`)."""
    message = pb.Message(type=pb.Message.DIAL)
    message.dial.peer.id = peer_id.multihash
    message.dial.peer.addrs.extend(a.without_peer_id().to_bytes() for a in list(addrs)[:MAX_ADDRS])
    return message.SerializeToString()


def encode_v1_response(response: V1DialResponse) -> bytes:
    """Serialize a ``DIAL_RESPONSE``."""
    message = pb.Message(type=pb.Message.DIAL_RESPONSE)
    message.dialResponse.status = pb.Message.ResponseStatus.ValueType(int(response.status))
    if response.text:
        message.dialResponse.statusText = response.text[:MAX_TEXT]
    if response.addr is not None:
        message.dialResponse.addr = response.addr.to_bytes()
    return message.SerializeToString()


def _parse(data: bytes) -> pb.Message:
    if len(data) > MAX_MESSAGE_SIZE:
        raise AutoNATDecodeError(f"AutoNAT v1 message of {len(data)} bytes is too large")
    return parse_message(pb.Message(), data, what="AutoNAT v1 message", error=AutoNATDecodeError)


def decode_v1_dial(data: bytes) -> V1Dial:
    """Parse a client's ``DIAL``.

    Raises:
        AutoNATDecodeError: not a message, not a ``DIAL``, or no valid peer id.
    """
    message = _parse(data)
    if not message.HasField("type") or message.type != pb.Message.DIAL:
        raise AutoNATDecodeError("AutoNAT v1 request is not a DIAL")
    if not message.dial.HasField("peer") or not message.dial.peer.HasField("id"):
        raise AutoNATDecodeError("AutoNAT v1 DIAL names no peer")
    try:
        peer_id = PeerId.from_bytes(message.dial.peer.id)
    except (PeerIdError, ValueError) as exc:
        raise AutoNATDecodeError(f"AutoNAT v1 DIAL has a malformed peer id: {exc}") from exc
    return V1Dial(peer_id, _addrs(message.dial.peer.addrs[:MAX_ADDRS]))


def decode_v1_response(data: bytes) -> V1DialResponse:
    """Parse a server's ``DIAL_RESPONSE``.

    Raises:
        AutoNATDecodeError: not a message, not a response, or a status we do not know.
    """
    message = _parse(data)
    if not message.HasField("type") or message.type != pb.Message.DIAL_RESPONSE:
        raise AutoNATDecodeError("AutoNAT v1 answer is not a DIAL_RESPONSE")
    response = message.dialResponse
    if not response.HasField("status"):
        raise AutoNATDecodeError("AutoNAT v1 DIAL_RESPONSE has no (known) status")
    addrs = _addrs([response.addr]) if response.HasField("addr") else ()
    return V1DialResponse(
        status=V1Status(int(response.status)),
        text=text(response.statusText, what="AutoNAT statusText", error=AutoNATDecodeError)[
            :MAX_TEXT
        ],
        addr=addrs[0] if addrs else None,
    )


def _addrs(raw: Iterable[bytes]) -> tuple[Multiaddr, ...]:
    out: list[Multiaddr] = []
    for data in raw:
        try:
            addr = Multiaddr.from_bytes(data)
        except MultiaddrError as exc:
            logger.debug("skipping a malformed address in an AutoNAT message: %s", exc)
            continue
        if addr.components():
            out.append(addr)
    return tuple(out)
