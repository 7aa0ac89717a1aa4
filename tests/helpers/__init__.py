"""Helpers shared by tests (import them; conftest files only hold fixtures)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

SCRIPT = Path(sys.executable).with_name("p2pstack")
"""The ``p2pstack`` console script of the environment running the tests."""


async def wait_until(
    check: Callable[[], bool], *, seconds: float = 5.0, step: float = 0.01
) -> None:
    """Poll ``check`` (tests only) until it is true; TooSlowError after ``seconds``."""
    with trio.fail_after(seconds):
        while True:
            if check():
                return
            await trio.sleep(step)


@asynccontextmanager
async def running_command(
    *args: str,
) -> AsyncIterator[tuple[dict[str, Any], trio.Process, list[str]]]:
    """Start ``p2pstack ARGS``; yield its first JSON line, the process and later stdout lines."""
    proc = await trio.lowlevel.open_process(
        [str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdout is not None
    buffer = bytearray()
    lines: list[str] = []
    try:
        with trio.fail_after(30):
            while b"\n" not in buffer:
                chunk = await proc.stdout.receive_some()
                assert chunk, "exited before printing its JSON line"
                buffer += chunk
        first, _, rest = bytes(buffer).partition(b"\n")
        buffer[:] = rest

        async def collect() -> None:
            assert proc.stdout is not None
            async for chunk in proc.stdout:
                buffer.extend(chunk)
                *done, tail = bytes(buffer).split(b"\n")
                lines.extend(d.decode() for d in done)
                buffer[:] = tail

        async with trio.open_nursery() as nursery:
            nursery.start_soon(collect)
            yield json.loads(first), proc, lines
            proc.send_signal(signal.SIGTERM)
            with trio.fail_after(20):
                assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
