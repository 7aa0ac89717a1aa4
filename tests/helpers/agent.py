"""The I/O of the test agents (``python -m tests...agent`` processes driven by namespace tests):
one JSON object a line on stdout, and running until stdin closes or SIGTERM/SIGINT."""

from __future__ import annotations

import json
import os
import signal
import sys

import trio


def emit(data: dict[str, object]) -> None:
    """Write ``data`` as one JSON line to stdout and flush it (the test reads it at once)."""
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def until_stopped() -> None:
    """Return when stdin reaches end-of-file (the test closed it) or on SIGTERM/SIGINT."""
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()

        async def on_eof() -> None:
            stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            async with stdin:
                while await stdin.receive_some(4096):
                    pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(on_signal)
        nursery.start_soon(on_eof)
