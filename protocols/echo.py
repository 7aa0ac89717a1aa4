"""echo (``/echo/1.0.0``): every byte is sent back until the writer half-closes."""

from __future__ import annotations

from typing import Final, final

import trio

from stack.connection import Connection
from stack.identity import PeerId
from stack.multiaddr import Multiaddr
from stack.netstream import NetStream
from stack.node import Node

from .errors import EchoError

ECHO_PROTOCOL: Final = "/echo/1.0.0"
_CHUNK: Final = 65536


@final
class EchoService:
    """Serves echo on a node."""

    async def serve(
        self, node: Node, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        node.set_stream_handler(ECHO_PROTOCOL, self.handle)
        task_status.started()

    async def handle(self, stream: NetStream) -> None:
        """Echo until EOF, then half-close our side."""
        while data := await stream.receive_some(_CHUNK):
            await stream.send_all(data)
        await stream.send_eof()


def echo() -> EchoService:
    """The echo protocol factory."""
    return EchoService()


async def echo_peer(
    node: Node, target: Multiaddr | PeerId | str | Connection, data: bytes
) -> bytes:
    """Send ``data`` over echo while reading the answer concurrently; return the answer.

    Raises:
        EchoError: the answer differs from ``data``.
    """
    stream = await node.new_stream(target, ECHO_PROTOCOL)
    received = bytearray()

    async def send() -> None:
        view = memoryview(data)
        for offset in range(0, len(view), _CHUNK):
            await stream.send_all(view[offset : offset + _CHUNK])
        await stream.send_eof()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send)
            while chunk := await stream.receive_some(_CHUNK):
                received += chunk
                if len(received) > len(data):
                    break
    finally:
        await stream.aclose()
    if received != data:
        raise EchoError(f"echo returned {len(received)} bytes differing from the {len(data)} sent")
    return bytes(received)
