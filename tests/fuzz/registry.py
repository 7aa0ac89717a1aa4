"""The fuzz target registry and the invariant every target checks.

A target is a named ``bytes -> None`` function that feeds the bytes to one decoder of remote
bytes. The invariant: the decoder returns a value or raises a :class:`~p2pstack.errors.StackError`
subclass, nothing else. Targets call decoders through :func:`decodes` (or catch StackError
themselves); any other exception escapes the target and is a finding (atheris reports it as a
crash, hypothesis as a failure).

Stateful decoders take their input in pieces: :func:`chunks` cuts the bytes after the first
(the control byte) into pieces whose sizes that byte chooses, so one input explores many splits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import trio

from p2pstack.errors import StackError

T = TypeVar("T")
Target = Callable[[bytes], None]

TARGETS: Final[dict[str, Target]] = {}
"""Every registered target by name (filled as the target modules are imported)."""


def target(name: str) -> Callable[[Target], Target]:
    """Register the decorated function as the fuzz target ``name``."""

    def register(fn: Target) -> Target:
        if name in TARGETS:
            raise ValueError(f"duplicate fuzz target {name!r}")
        TARGETS[name] = fn
        return fn

    return register


def decodes(fn: Callable[..., T], *args: object, **kwargs: object) -> T | None:
    """Call a decoder: its value, or None if it raised a StackError (anything else escapes)."""
    try:
        return fn(*args, **kwargs)
    except StackError:
        return None


def chunks(data: bytes) -> list[bytes]:
    """Split ``data[1:]`` into pieces; ``data[0]`` picks the sizes.

    Control byte below 32: one piece. Otherwise pieces alternate between
    ``1 + control % 16`` and ``1 + control // 16`` bytes (1-byte pieces included).
    """
    if not data:
        return []
    control, body = data[0], data[1:]
    if control < 32:
        return [body] if body else []
    sizes = (1 + control % 16, 1 + control // 16)
    out: list[bytes] = []
    pos = 0
    turn = 0
    while pos < len(body):
        size = sizes[turn % 2]
        out.append(body[pos : pos + size])
        pos += size
        turn += 1
    return out


def whole(body: bytes) -> bytes:
    """The input that :func:`chunks` turns into the single piece ``body``."""
    return b"\x00" + body


def split(body: bytes, control: int) -> bytes:
    """The input that :func:`chunks` cuts with control byte ``control``."""
    return bytes((control,)) + body


def is_typed_stream_error(exc: BaseException) -> bool:
    """Whether a stream method's error keeps the contract.

    trio's ClosedResourceError, or a BrokenResourceError caused by a StackError (or by a
    transport failure, itself a BrokenResourceError), or a StackError.
    """
    if isinstance(exc, StackError | trio.ClosedResourceError):
        return True
    if isinstance(exc, trio.BrokenResourceError):
        cause = exc.__cause__
        return cause is None or isinstance(cause, StackError | trio.BrokenResourceError)
    return False
