"""What every worker process shares: JSON output, the control channel on stdin, memory probes.

A worker prints JSON lines on stdout (the parent reads them) and logs on stderr. Its stdin is
a pipe from the parent: lines on it are commands, and EOF (the parent closed it, or died)
ends the worker at once, so no child outlives its runner.
"""

from __future__ import annotations

import gc
import json
import os
import struct
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any, Final

import trio

#: The sink protocol (the Go yamux peer's ``sink`` mode): a big-endian u64 length, that many
#: bytes, then the receiver answers with the count it received, also a big-endian u64.
HEADER: Final = struct.Struct(">Q")
READ_SIZE: Final = 1 << 20

Params = dict[str, Any]


def emit(data: dict[str, Any]) -> None:
    """Print one JSON line on stdout and flush it."""
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


class Control:
    """Lines from the parent on stdin; EOF cancels the worker."""

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[str](16)

    async def run(self, scope: trio.CancelScope) -> None:
        """Read stdin until EOF, then cancel ``scope``."""
        stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
        buffer = b""
        async with stdin:
            while chunk := await stdin.receive_some(4096):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    await self._send.send(line.decode().strip())
        scope.cancel()

    async def next_line(self) -> str:
        """The next command line from the parent."""
        return await self._receive.receive()


def serve(role: Callable[[Params, Control], Awaitable[None]], params: Params) -> None:
    """Run ``role`` until it returns or stdin reaches EOF."""

    async def main() -> None:
        control = Control()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(control.run, nursery.cancel_scope)
            await role(params, control)
            nursery.cancel_scope.cancel()

    trio.run(main)


async def exactly(stream: trio.abc.ReceiveStream, count: int) -> bytes:
    """Receive exactly ``count`` bytes. Raises EOFError on a short stream."""
    data = b""
    while len(data) < count:
        chunk = await stream.receive_some(count - len(data))
        if not chunk:
            raise EOFError(f"stream ended after {len(data)} of {count} bytes")
        data += chunk
    return data


async def sink_one(stream: trio.abc.Stream) -> int:
    """Serve the sink protocol once on ``stream``; return the byte count (it stays open)."""
    want = HEADER.unpack(await exactly(stream, HEADER.size))[0]
    got = 0
    while got < want:
        chunk = await stream.receive_some(min(READ_SIZE, want - got))
        if not chunk:
            break
        got += len(chunk)
    await stream.send_all(HEADER.pack(got))
    return got


async def send_one(stream: trio.abc.Stream, count: int, chunk: memoryview) -> None:
    """Client side of the sink protocol: send ``count`` zero bytes, wait for the answer."""
    await stream.send_all(HEADER.pack(count))
    size = len(chunk)
    left = count
    while left > 0:
        step = min(size, left)
        await stream.send_all(chunk[:step])
        left -= step
    (answer,) = HEADER.unpack(await exactly(stream, HEADER.size))
    if answer != count:
        raise RuntimeError(f"the receiver counted {answer} of {count} bytes")


def shares(total: int, parts: int) -> list[int]:
    """Split ``total`` into ``parts`` near-equal integers."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def rss_bytes() -> int:
    """This process's resident set size, from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS missing from /proc/self/status")


def memory_probe() -> dict[str, int]:
    """RSS and tracemalloc's current traced bytes, after a full collection."""
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
    return {"rss": rss_bytes(), "traced": traced}
