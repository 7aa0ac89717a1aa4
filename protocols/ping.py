"""ping (``/ipfs/ping/1.0.0``): 32 random bytes echoed back, round-trip time measured."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Final, final

import trio

from stack.connection import Connection
from stack.errors import InvalidConfigError, UnexpectedEOF
from stack.identity import PeerId
from stack.multiaddr import Multiaddr
from stack.netstream import NetStream
from stack.node import Node

from .errors import PingError, PingTimeout

PING_PROTOCOL: Final = "/ipfs/ping/1.0.0"
PING_SIZE: Final = 32
logger: Final = logging.getLogger("p2pstack.ping")


@dataclass(frozen=True, kw_only=True, slots=True)
class PingConfig:
    """``idle_timeout``: the server closes a ping stream that sends nothing for this long."""

    idle_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.idle_timeout <= 0:
            raise InvalidConfigError("idle_timeout must be positive")


@final
class PingService:
    """Serves ping on a node."""

    def __init__(self, config: PingConfig) -> None:
        self.config = config

    async def serve(
        self, node: Node, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        node.set_stream_handler(PING_PROTOCOL, self.handle)
        task_status.started()

    async def handle(self, stream: NetStream) -> None:
        """Echo 32-byte pings until the peer closes, goes idle, or sends a partial ping."""
        while True:
            with trio.move_on_after(self.config.idle_timeout):
                try:
                    payload = await stream.receive_exactly(PING_SIZE)
                except UnexpectedEOF:
                    if stream.buffered:
                        logger.debug("peer %s sent a partial ping", stream.remote_peer.short())
                    return
                await stream.send_all(payload)
                continue
            logger.debug("ping stream from %s idle; closing", stream.remote_peer.short())
            return


def ping() -> PingService:
    """The ping protocol factory."""
    return PingService(PingConfig())


async def ping_peer(
    node: Node,
    target: Multiaddr | PeerId | str | Connection,
    *,
    count: int = 1,
    ping_timeout: float = 10.0,
) -> list[float]:
    """Ping ``target`` ``count`` times over one stream, back to back.

    Returns:
        The round-trip times in seconds.

    Raises:
        PingTimeout: one ping took longer than ``ping_timeout`` seconds.
        PingError: the echo differed from what was sent.
        DialError, NegotiationFailed, trio.BrokenResourceError.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    stream = await node.new_stream(target, PING_PROTOCOL)
    rtts: list[float] = []
    try:
        for _ in range(count):
            payload = os.urandom(PING_SIZE)
            with trio.move_on_after(ping_timeout) as scope:
                start = trio.current_time()
                await stream.send_all(payload)
                echo = await stream.receive_exactly(PING_SIZE)
                rtts.append(trio.current_time() - start)
            if scope.cancelled_caught:
                raise PingTimeout(
                    f"no ping answer from {stream.remote_peer} within {ping_timeout} s"
                )
            if echo != payload:
                raise PingError("ping answer differs from the request")
        await stream.send_eof()
    finally:
        await stream.aclose()
    return rtts
