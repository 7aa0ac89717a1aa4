"""Helpers shared by tests (import them; conftest files only hold fixtures)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
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


@dataclass
class RunningCommand:
    """A ``p2pstack`` process started by :func:`running_p2pstack`."""

    info: dict[str, Any]
    """Its first stdout line, parsed as JSON."""
    proc: trio.Process
    lines: list[str] = field(default_factory=list)
    """The stdout lines after the first, as they arrive."""
    stderr: bytearray = field(default_factory=bytearray)
    """Everything it wrote to stderr so far."""


@asynccontextmanager
async def running_p2pstack(*args: str) -> AsyncIterator[RunningCommand]:
    """Start ``p2pstack ARGS`` and wait for its first (JSON) stdout line; collect the later
    stdout lines and stderr while the block runs; then SIGTERM it and check it exits with 0."""
    proc = await trio.lowlevel.open_process(
        [str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    stderr = bytearray()
    buffer = bytearray()

    async def collect_stderr() -> None:
        assert proc.stderr is not None
        async for chunk in proc.stderr:
            stderr.extend(chunk)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collect_stderr)
            with trio.fail_after(30):
                while b"\n" not in buffer:
                    chunk = await proc.stdout.receive_some()
                    assert chunk, f"exited early: {stderr.decode(errors='replace')}"
                    buffer += chunk
            first, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            running = RunningCommand(json.loads(first), proc, stderr=stderr)

            async def collect_stdout() -> None:
                assert proc.stdout is not None
                async for chunk in proc.stdout:
                    buffer.extend(chunk)
                    *done, tail = bytes(buffer).split(b"\n")
                    running.lines.extend(d.decode() for d in done)
                    buffer[:] = tail

            nursery.start_soon(collect_stdout)
            yield running
            proc.send_signal(signal.SIGTERM)
            with trio.fail_after(20):
                status = await proc.wait()
            assert status == 0, stderr.decode(errors="replace")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@asynccontextmanager
async def running_command(
    *args: str,
) -> AsyncIterator[tuple[dict[str, Any], trio.Process, list[str]]]:
    """:func:`running_p2pstack` as ``(first JSON line, process, later stdout lines)``."""
    async with running_p2pstack(*args) as running:
        yield running.info, running.proc, running.lines
