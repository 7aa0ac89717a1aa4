"""Decoding protobuf messages from remote bytes: the one place that turns every failure of
the protobuf runtime into our typed errors.

Every decoder of a protobuf that a peer sent parses with :func:`parse_message` and reads each
``string`` field through :func:`text` / :func:`texts`. The upb runtime does not check UTF-8 in
proto2 ``string`` fields: invalid bytes come back as ``bytes`` instead of ``str`` (and a str
method called on them raises ``TypeError``); in proto3 it raises on parse. Both end here as
the caller's :class:`~p2pstack.errors.DecodeError` subclass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeVar

from google.protobuf.message import DecodeError as _PbDecodeError, Message

from p2pstack.errors import DecodeError

M = TypeVar("M", bound=Message)

_PARSE_FAILURES: Final = (_PbDecodeError, RuntimeWarning, ValueError, RecursionError)
"""What parsing may raise: protobuf's DecodeError, UnicodeDecodeError (a ValueError) for a
proto3 string, a RecursionError for absurd nesting."""


def parse_message(
    message: M,
    data: bytes | bytearray | memoryview,
    *,
    what: str,
    error: type[DecodeError] = DecodeError,
    merge: bool = False,
) -> M:
    """Parse ``data`` into ``message`` (or merge it in with ``merge``) and return it.

    Raises:
        DecodeError: (``error``, a subclass) the bytes are not a ``what`` message.
    """
    try:
        if merge:
            message.MergeFromString(bytes(data))
        else:
            message.ParseFromString(bytes(data))
    except _PARSE_FAILURES as exc:
        raise error(f"malformed {what}: {exc}") from exc
    return message


def text(value: str | bytes, *, what: str, error: type[DecodeError] = DecodeError) -> str:
    """The value of a protobuf ``string`` field as ``str``.

    Raises:
        DecodeError: (``error``) the field held bytes that are not UTF-8.
    """
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8: {value[:64]!r}") from exc


def texts(
    values: Iterable[str | bytes], *, what: str, error: type[DecodeError] = DecodeError
) -> list[str]:
    """The values of a repeated ``string`` field (see :func:`text`)."""
    return [text(v, what=what, error=error) for v in values]
