"""ConflictDetector: the trio convention that one side of a stream serves one task at a time."""

from __future__ import annotations

import trio


class ConflictDetector:
    """Context manager raising ``trio.BusyResourceError(message)`` on concurrent entry."""

    __slots__ = ("_busy", "_message")

    def __init__(self, message: str) -> None:
        self._message = message
        self._busy = False

    def __enter__(self) -> None:
        if self._busy:
            raise trio.BusyResourceError(self._message)
        self._busy = True

    def __exit__(self, *exc: object) -> None:
        self._busy = False
