from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from tests.helpers import SCRIPT, running_p2pstack

__all__ = ["SCRIPT", "p2pstack", "run_p2pstack", "running_node"]


def p2pstack(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed console script to completion (call from a thread in async tests)."""
    assert SCRIPT.exists(), f"{SCRIPT} missing: install the project with scripts/setup"
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


async def run_p2pstack(*args: str) -> subprocess.CompletedProcess[str]:
    """:func:`p2pstack` without blocking the trio loop."""
    return await trio.to_thread.run_sync(lambda: p2pstack(*args))


@asynccontextmanager
async def running_node(*args: str) -> AsyncIterator[dict[str, Any]]:
    """Start ``p2pstack node ARGS``; yield its JSON line; SIGTERM it and check it exits with 0."""
    async with running_p2pstack("node", *args) as running:
        yield running.info
