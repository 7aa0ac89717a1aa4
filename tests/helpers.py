"""Helpers shared by tests (import them; conftest files only hold fixtures)."""

from __future__ import annotations

from collections.abc import Callable

import trio


async def wait_until(
    check: Callable[[], bool], *, seconds: float = 5.0, step: float = 0.01
) -> None:
    """Poll ``check`` (tests only) until it is true; TooSlowError after ``seconds``."""
    with trio.fail_after(seconds):
        while True:
            if check():
                return
            await trio.sleep(step)
