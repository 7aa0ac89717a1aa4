"""Optional operations a byte stream may offer beyond ``trio.abc.Stream``, found by duck typing.

Layers check for them once, when they wrap a stream, and fall back to the plain trio calls.
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import trio

Buffer = bytes | bytearray | memoryview


def checked_max_bytes(max_bytes: int | None) -> int | None:
    """``receive_some``'s ``max_bytes`` checked as trio's streams check it: None, or an int.

    Raises:
        TypeError: not an integer.
        ValueError: less than 1.
    """
    if max_bytes is None:
        return None
    max_bytes = operator.index(max_bytes)
    if max_bytes < 1:
        raise ValueError("max_bytes must be >= 1")
    return max_bytes


def check_sendable(
    kind: str, *, closed: bool, eof_sent: bool, send_error: BaseException | None
) -> None:
    """The checks before a send on an encrypted stream (``kind``: "TLS", "Noise").

    Raises:
        trio.ClosedResourceError: the stream is closed, or ``send_eof`` was called.
        trio.BrokenResourceError: an earlier send failed (``send_error`` is the cause).
    """
    if closed:
        raise trio.ClosedResourceError(f"the {kind} stream is closed")
    if eof_sent:
        raise trio.ClosedResourceError(f"send_eof was already called on this {kind} stream")
    if send_error is not None:
        raise trio.BrokenResourceError(f"an earlier send on this {kind} stream failed") from (
            send_error
        )


@runtime_checkable
class ReceivesInto(Protocol):
    """``receive_into(buffer)`` reads into the caller's buffer: the count, 0 at EOF.

    Errors and checkpoints as ``receive_some``.
    """

    async def receive_into(self, buffer: bytearray | memoryview) -> int: ...


@runtime_checkable
class SendsAtomically(Protocol):
    """``send_all_atomic(data)`` sends all of ``data`` even if cancelled meanwhile.

    A schedule point that never raises ``trio.Cancelled`` itself: a cancelled writer never
    leaves part of a frame on the wire. Other errors as ``send_all``.
    """

    async def send_all_atomic(self, data: Buffer) -> None: ...


def receive_into_of(stream: object) -> Callable[[bytearray | memoryview], Awaitable[int]] | None:
    """``stream.receive_into`` (see :class:`ReceivesInto`), or None. Cheaper than
    ``isinstance`` against the protocol, for per-connection set-up."""
    method = getattr(stream, "receive_into", None)
    return method if callable(method) else None


def atomic_send_of(stream: object) -> Callable[[Buffer], Awaitable[None]] | None:
    """``stream.send_all_atomic`` (see :class:`SendsAtomically`), or None."""
    method = getattr(stream, "send_all_atomic", None)
    return method if callable(method) else None


def unwrap_method_of(stream: object) -> Callable[[], trio.abc.Stream] | None:
    """``stream.unwrapped``, or None: a wrapper that may become redundant (a lazy
    negotiation, once answered) returns the stream below it then, else itself."""
    method = getattr(stream, "unwrapped", None)
    return method if callable(method) else None


def receive_is_cancel_safe(stream: trio.abc.ReceiveStream) -> bool:
    """Whether a cancelled ``receive_some`` on ``stream`` never loses data.

    Streams say so with a true ``cancel_safe_receive`` attribute.
    """
    return bool(getattr(stream, "cancel_safe_receive", False))
