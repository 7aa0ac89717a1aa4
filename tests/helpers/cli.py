from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from tests.helpers import SCRIPT

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
async def running_p2pstack(*args: str) -> AsyncIterator[tuple[dict[str, Any], bytearray]]:
    """Start ``p2pstack ARGS``; yield its first JSON line and its stderr so far (it keeps
    growing); then SIGTERM it and check it exits with 0."""
    proc = await trio.lowlevel.open_process(
        [str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    stderr = bytearray()

    async def collect_stderr() -> None:
        assert proc.stderr is not None
        async for chunk in proc.stderr:
            stderr.extend(chunk)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collect_stderr)
            line = bytearray()
            with trio.fail_after(30):
                while not line.endswith(b"\n"):
                    chunk = await proc.stdout.receive_some(1)
                    assert chunk, f"exited early: {stderr.decode(errors='replace')}"
                    line += chunk
            yield json.loads(line), stderr
            proc.send_signal(signal.SIGTERM)
            with trio.fail_after(20):
                status = await proc.wait()
            assert status == 0, stderr.decode(errors="replace")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@asynccontextmanager
async def running_node(*args: str) -> AsyncIterator[dict[str, Any]]:
    """Start ``p2pstack node ARGS``; yield its JSON line; SIGTERM it and check it exits with 0."""
    async with running_p2pstack("node", *args) as (info, _):
        yield info
