"""Checks of API arguments: every bad argument raises :class:`~p2pstack.errors.InvalidConfigError`
with a message naming the argument (foundation: no I/O, no trio)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from p2pstack.errors import InvalidConfigError

T = TypeVar("T")


def _kind(value: object) -> str:
    return (
        f"{type(value).__name__} {value!r}"
        if isinstance(value, str | int | float)
        else (type(value).__name__)
    )


def config_arg(value: T | None, cls: type[T], where: str) -> T:
    """``value`` when it is a ``cls``, ``cls()`` when it is None.

    ``where`` names the argument in the error, e.g. ``"ping(config)"``.

    Raises:
        InvalidConfigError: ``value`` is something else.
    """
    if value is None:
        return cls()
    if not isinstance(value, cls):
        raise InvalidConfigError(f"{where}: expected a {cls.__name__}, got {_kind(value)}")
    return value


def instance_arg(value: object, cls: type[T], where: str) -> T:
    """``value`` when it is a ``cls``. Raises InvalidConfigError naming ``where`` otherwise."""
    if not isinstance(value, cls):
        raise InvalidConfigError(f"{where}: expected a {cls.__name__}, got {_kind(value)}")
    return value


def sequence_arg(value: Iterable[T] | None, where: str) -> list[T] | None:
    """``value`` as a list (None stays None); a string or a non-iterable is refused."""
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidConfigError(f"{where}: expected a list, got {_kind(value)}")
    return list(value)


def has_methods(value: object, names: Iterable[str], where: str, what: str) -> None:
    """Check that ``value`` has each method of ``names`` (a structural check of a plug-in).

    Raises:
        InvalidConfigError: one is missing; the message names ``where`` and ``what`` it should be.
    """
    missing = [n for n in names if not callable(getattr(value, n, None))]
    if missing:
        raise InvalidConfigError(
            f"{where}: expected {what}, got {_kind(value)} (no {', '.join(missing)})"
        )
