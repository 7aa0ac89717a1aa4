"""Child processes that talk in JSON lines, always stopped and reaped (also on Ctrl-C)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import IO, Any, Final

import trio

from p2pstack.benchmarks.checkout import child_cwd

logger: Final = logging.getLogger("p2pstack.benchmarks.procs")

STOP_GRACE: Final = 3.0


class BenchError(Exception):
    """A benchmark step failed (a child died, printed garbage, or a peer is unusable)."""


def worker_argv(role: str, **params: Any) -> list[str]:
    """The command line of a ``p2pstack.benchmarks.worker`` role."""
    return [sys.executable, "-m", "p2pstack.benchmarks.worker", role, json.dumps(params)]


PERF_ARGS: Final = ("--perf", "--perf-max-bytes", "1T")
"""``p2pstack node`` serves perf only with ``--perf``; the benchmarks' transfers may exceed its
default 1 GiB per-request cap."""


def cli_argv(*args: str) -> list[str]:
    """The command line of a ``p2pstack`` subcommand, run with this interpreter."""
    return [sys.executable, "-m", "p2pstack.cli.main", *args]


class Child:
    """A running child: JSON lines from its stdout, command lines to its stdin."""

    def __init__(self, name: str, process: trio.Process, stderr: IO[bytes]) -> None:
        self.name = name
        self.process = process
        self._stderr = stderr
        self._buffer = b""

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr_tail(self, lines: int = 15) -> str:
        """The last lines the child wrote on stderr."""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        return "\n".join(text.strip().splitlines()[-lines:])

    def _failure(self, what: str) -> BenchError:
        tail = self.stderr_tail()
        return BenchError(f"{self.name}: {what}" + (f"\n{tail}" if tail else ""))

    async def read_json(self) -> dict[str, Any]:
        """The next JSON object on stdout (other lines are skipped).

        Raises:
            BenchError: the child ended first, or reported ``{"error": ...}``.
        """
        assert self.process.stdout is not None
        while True:
            while b"\n" not in self._buffer:
                chunk = await self.process.stdout.receive_some(65536)
                if not chunk:
                    await self.process.wait()
                    raise self._failure(f"exited ({self.process.returncode}) without a result")
                self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\n", 1)
            with suppress(ValueError):
                data = json.loads(line)
                if isinstance(data, dict):
                    if "error" in data:
                        raise self._failure(f"error: {data['error']}")
                    return data

    async def send_line(self, text: str) -> None:
        """Write one command line to the child's stdin."""
        assert self.process.stdin is not None
        await self.process.stdin.send_all(text.encode() + b"\n")

    async def wait(self) -> int:
        """Wait for the child to exit; raises BenchError on a non-zero status."""
        status = await self.process.wait()
        if status != 0:
            raise self._failure(f"exited with status {status}")
        return status

    async def stop(self, *, terminate: bool = False) -> None:
        """Close stdin, then SIGTERM, then SIGKILL; always reaps. Shielded from cancellation."""
        process = self.process
        with trio.CancelScope(shield=True):
            if process.stdin is not None:
                with suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    await process.stdin.aclose()
            if terminate and process.returncode is None:
                process.send_signal(signal.SIGTERM)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with trio.move_on_after(STOP_GRACE):
                    await process.wait()
                if process.returncode is not None:
                    break
                logger.debug("%s did not exit; sending %s", self.name, sig.name)
                process.send_signal(sig)
            await process.wait()


@asynccontextmanager
async def spawn(
    argv: Sequence[str], *, name: str, terminate: bool = False, env: dict[str, str] | None = None
) -> AsyncIterator[Child]:
    """Run ``argv`` (cwd: the checkout we run from, else the current one) for the block; stop it.

    ``terminate``: send SIGTERM right after closing stdin (for programs that ignore EOF).
    """
    logger.debug("starting %s: %s", name, " ".join(argv))
    with tempfile.TemporaryFile(prefix="bench-stderr-") as stderr:
        try:
            process = await trio.lowlevel.open_process(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=child_cwd(),
                env={**os.environ, **(env or {})},
            )
        except OSError as exc:
            raise BenchError(f"{name}: cannot start {argv[0]}: {exc}") from exc
        child = Child(name, process, stderr)
        try:
            yield child
        finally:
            await child.stop(terminate=terminate)


async def run_json(argv: Sequence[str], *, name: str) -> dict[str, Any]:
    """Run a command to completion and return the JSON object it printed."""
    async with spawn(argv, name=name) as child:
        result = await child.read_json()
        await child.wait()
    return result
