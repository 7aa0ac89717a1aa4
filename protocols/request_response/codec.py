"""Codecs: how requests and responses become message bodies (the framing is not theirs).

A codec is anything with the four methods of :class:`Codec`. Decoders must raise
:class:`~.errors.CodecError` (or ``ValueError``/``TypeError``, which the service converts)
on bad input; they only ever see a body already checked against the size limit.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Generic, Protocol, TypeVar, final

from p2pstack.protocols.request_response.errors import CodecError

Req = TypeVar("Req")
Resp = TypeVar("Resp")
T = TypeVar("T")


class Codec(Protocol[Req, Resp]):
    """Encodes and decodes the requests and responses of one protocol."""

    def encode_request(self, request: Req) -> bytes:
        """The body of ``request``."""
        ...

    def decode_request(self, body: bytes) -> Req:
        """The request in ``body``. Raises CodecError."""
        ...

    def encode_response(self, response: Resp) -> bytes:
        """The body of ``response``."""
        ...

    def decode_response(self, body: bytes) -> Resp:
        """The response in ``body``. Raises CodecError."""
        ...


@final
class BytesCodec:
    """Bodies are the messages themselves (py-libp2p's ``BytesCodec``)."""

    def encode_request(self, request: bytes) -> bytes:
        return bytes(request)

    def decode_request(self, body: bytes) -> bytes:
        return body

    def encode_response(self, response: bytes) -> bytes:
        return bytes(response)

    def decode_response(self, body: bytes) -> bytes:
        return body


def _json_encode(value: object) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise CodecError(f"value is not JSON-serializable: {exc}", remote=False) from exc


def _json_decode(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CodecError(f"body is not valid UTF-8 JSON: {exc}") from exc


@final
class JsonCodec:
    """UTF-8 JSON bodies, compatible with py-libp2p's ``JSONCodec``."""

    def encode_request(self, request: Any) -> bytes:
        return _json_encode(request)

    def decode_request(self, body: bytes) -> Any:
        return _json_decode(body)

    def encode_response(self, response: Any) -> bytes:
        return _json_encode(response)

    def decode_response(self, body: bytes) -> Any:
        return _json_decode(body)


def _from_json(cls: type[T], body: bytes) -> T:
    data = _json_decode(body)
    if not isinstance(data, dict):
        raise CodecError(f"expected a JSON object for {cls.__name__}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise CodecError(f"JSON object does not fit {cls.__name__}: {exc}") from exc


@final
class DataclassCodec(Generic[Req, Resp]):
    """Dataclass instances as JSON objects of their fields (flat fields of JSON types).

    Example: ``DataclassCodec(GetBalance, Balance)``. Unknown or missing fields are a
    CodecError; field types are not checked beyond what the dataclass itself checks.
    """

    def __init__(self, request_type: type[Req], response_type: type[Resp]) -> None:
        for cls in (request_type, response_type):
            if not dataclasses.is_dataclass(cls):
                raise TypeError(f"{cls!r} is not a dataclass")
        self.request_type = request_type
        self.response_type = response_type

    def encode_request(self, request: Req) -> bytes:
        return _json_encode(dataclasses.asdict(request))  # type: ignore[call-overload]

    def decode_request(self, body: bytes) -> Req:
        return _from_json(self.request_type, body)

    def encode_response(self, response: Resp) -> bytes:
        return _json_encode(dataclasses.asdict(response))  # type: ignore[call-overload]

    def decode_response(self, body: bytes) -> Resp:
        return _from_json(self.response_type, body)
