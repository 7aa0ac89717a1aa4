"""AutoNAT v2 messages: typed values and their encoding (pure, no I/O).

On ``/libp2p/autonat/2/dial-request`` every message is a delimited ``Message`` (one of
``DialRequest``, ``DialDataRequest``, ``DialDataResponse``, ``DialResponse``); on
``/libp2p/autonat/2/dial-back`` the server sends ``DialBack`` and the client answers
``DialBackResponse``. Decoders accept any bytes and return a value or raise
:class:`AutoNATDecodeError`; a status we do not know is an error (the spec says to discard
such a response).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeVar

from google.protobuf.message import Message

from p2pstack.errors import MultiaddrError
from p2pstack.multiaddr import Multiaddr
from p2pstack.protobuf import parse_message
from p2pstack.protocols.nat.autonat.errors import AutoNATDecodeError
from p2pstack.protocols.nat.autonat.pb import autonat_v2_pb2 as pb

logger: Final = logging.getLogger("p2pstack.autonat")

DIAL_REQUEST_PROTOCOL: Final = "/libp2p/autonat/2/dial-request"
DIAL_BACK_PROTOCOL: Final = "/libp2p/autonat/2/dial-back"
MAX_MESSAGE_SIZE: Final = 8192
"""Bounds every v2 message (a ``DialDataResponse`` carries at most 4096 data bytes)."""
MAX_DATA_CHUNK: Final = 4096
"""The spec's limit on one ``DialDataResponse``'s ``data``."""
MAX_ADDRS: Final = 32
_M = TypeVar("_M", bound=Message)


class DialStatus(enum.IntEnum):
    """The outcome of the dial back (``DialStatus``)."""

    UNUSED = 0
    E_DIAL_ERROR = 100
    E_DIAL_BACK_ERROR = 101
    OK = 200


class ResponseStatus(enum.IntEnum):
    """Whether the server served the request (``DialResponse.ResponseStatus``)."""

    E_INTERNAL_ERROR = 0
    E_REQUEST_REJECTED = 100
    E_DIAL_REFUSED = 101
    OK = 200


@dataclass(frozen=True, slots=True)
class DialRequest:
    """Addresses in priority order and the nonce the dial back must carry; an address that
    did not parse is ``None`` (indices stay the client's)."""

    addrs: tuple[Multiaddr | None, ...]
    nonce: int


@dataclass(frozen=True, slots=True)
class DialDataRequest:
    """The server asks for ``num_bytes`` before it dials ``addrs[addr_idx]``."""

    addr_idx: int
    num_bytes: int


@dataclass(frozen=True, slots=True)
class DialDataResponse:
    """Some of the requested bytes (only their number matters)."""

    size: int


@dataclass(frozen=True, slots=True)
class DialResponse:
    """The server's answer; ``addr_idx``/``dial_status`` mean something only when ``OK``."""

    status: ResponseStatus
    addr_idx: int = 0
    dial_status: DialStatus = DialStatus.UNUSED


V2Message = DialRequest | DialDataRequest | DialDataResponse | DialResponse


def encode_v2(message: V2Message) -> bytes:
    """Serialize one dial-request stream message (data chunks are zero bytes)."""
    out = pb.Message()
    if isinstance(message, DialRequest):
        out.dialRequest.addrs.extend(
            b"" if a is None else a.to_bytes() for a in message.addrs[:MAX_ADDRS]
        )
        out.dialRequest.nonce = message.nonce
    elif isinstance(message, DialDataRequest):
        out.dialDataRequest.addrIdx = message.addr_idx
        out.dialDataRequest.numBytes = message.num_bytes
    elif isinstance(message, DialDataResponse):
        out.dialDataResponse.data = bytes(min(message.size, MAX_DATA_CHUNK))
    else:
        out.dialResponse.status = pb.DialResponse.ResponseStatus.ValueType(int(message.status))
        out.dialResponse.addrIdx = message.addr_idx
        out.dialResponse.dialStatus = pb.DialStatus.ValueType(int(message.dial_status))
    return out.SerializeToString()


def decode_v2(data: bytes) -> V2Message:
    """Parse one dial-request stream message.

    Raises:
        AutoNATDecodeError: malformed, empty, or a status value we do not know.
    """
    message = _parse(pb.Message(), data, "AutoNAT v2 message")
    kind = message.WhichOneof("msg")
    if kind == "dialRequest":
        request = message.dialRequest
        return DialRequest(_addrs(request.addrs[:MAX_ADDRS]), request.nonce)
    if kind == "dialDataRequest":
        return DialDataRequest(message.dialDataRequest.addrIdx, message.dialDataRequest.numBytes)
    if kind == "dialDataResponse":
        return DialDataResponse(len(message.dialDataResponse.data))
    if kind == "dialResponse":
        response = message.dialResponse
        try:
            return DialResponse(
                ResponseStatus(int(response.status)),
                response.addrIdx,
                DialStatus(int(response.dialStatus)),
            )
        except ValueError as exc:
            raise AutoNATDecodeError(f"AutoNAT v2 DialResponse: unknown status: {exc}") from exc
    raise AutoNATDecodeError("AutoNAT v2 message carries no known message")


def encode_dial_back(nonce: int) -> bytes:
    """Serialize the server's ``DialBack``."""
    return pb.DialBack(nonce=nonce).SerializeToString()


def decode_dial_back(data: bytes) -> int:
    """The nonce of a ``DialBack``. Raises :class:`AutoNATDecodeError`."""
    return _parse(pb.DialBack(), data, "AutoNAT v2 DialBack").nonce


def encode_dial_back_response() -> bytes:
    """Serialize the client's ``DialBackResponse{OK}`` (all defaults: zero bytes)."""
    return pb.DialBackResponse(status=pb.DialBackResponse.OK).SerializeToString()


def decode_dial_back_response(data: bytes) -> None:
    """Check a ``DialBackResponse`` says ``OK``. Raises :class:`AutoNATDecodeError`."""
    message = _parse(pb.DialBackResponse(), data, "AutoNAT v2 DialBackResponse")
    if message.status != pb.DialBackResponse.OK:
        raise AutoNATDecodeError(f"AutoNAT v2 DialBackResponse status {int(message.status)}")


def _parse(message: _M, data: bytes, what: str) -> _M:
    if len(data) > MAX_MESSAGE_SIZE:
        raise AutoNATDecodeError(f"{what} of {len(data)} bytes is too large")
    return parse_message(message, data, what=what, error=AutoNATDecodeError)


def _addrs(raw: Iterable[bytes]) -> tuple[Multiaddr | None, ...]:
    out: list[Multiaddr | None] = []
    for data in raw:
        try:
            addr = Multiaddr.from_bytes(data)
        except MultiaddrError as exc:
            logger.debug("a malformed address in an AutoNAT v2 request: %s", exc)
            addr = None
        out.append(addr if addr is not None and addr.components() else None)
    return tuple(out)
