"""echo (``/echo/1.0.0``): every byte is sent back until the writer half-closes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, final

import trio

from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.host.netstream import NetStream
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.errors import EchoError

ECHO_PROTOCOL: Final = "/echo/1.0.0"
_CHUNK: Final = 65536
logger: Final = logging.getLogger("p2pstack.echo")


@dataclass(frozen=True, kw_only=True, slots=True)
class EchoConfig:
    """Echo options.

    ``idle_timeout`` (30 s): a stream that makes no progress for this long (nothing received
    from the peer, or our answer not taken because the peer does not read) is reset.
    """

    idle_timeout: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.idle_timeout, bool) or not self.idle_timeout > 0:
            raise InvalidConfigError("idle_timeout must be positive")


@final
class EchoService:
    """Serves echo on a node."""

    def __init__(self, config: EchoConfig | None = None) -> None:
        self.config = config or EchoConfig()

    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        node.set_stream_handler(ECHO_PROTOCOL, self.handle)
        task_status.started()

    async def handle(self, stream: NetStream) -> None:
        """Echo until EOF, then half-close our side; reset the stream once idle."""
        idle = self.config.idle_timeout
        with trio.move_on_after(idle) as scope:
            while data := await stream.receive_some(_CHUNK):
                scope.deadline = trio.current_time() + idle
                # the chunk is held until the peer takes it: account it (LimitExceeded
                # resets the stream)
                stream.scope.reserve_memory(len(data))
                await stream.send_all(data)
                stream.scope.release_memory(len(data))
                scope.deadline = trio.current_time() + idle
            await stream.send_eof()
        if scope.cancelled_caught:
            logger.debug(
                "echo stream from %s idle for %s s; resetting", stream.remote_peer.short(), idle
            )
            await stream.reset()


def echo(config: EchoConfig | None = None) -> EchoService:
    """The echo protocol factory (``config``: defaults when None)."""
    return EchoService(config_arg(config, EchoConfig, "echo(config)"))


async def echo_peer(
    node: NodeContext, target: Multiaddr | PeerId | str | Connection, data: bytes
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
