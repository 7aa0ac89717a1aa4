"""ping (``/ipfs/ping/1.0.0``): 32 random bytes echoed back, round-trip time measured."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Final, final

import trio

from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError, UnexpectedEOF
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.host.netstream import NetStream
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.errors import PingError, PingTimeout

PING_PROTOCOL: Final = "/ipfs/ping/1.0.0"
PING_SIZE: Final = 32
logger: Final = logging.getLogger("p2pstack.ping")


@dataclass(frozen=True, kw_only=True, slots=True)
class PingConfig:
    """Ping options.

    ``idle_timeout`` (30 s): the server resets a ping stream that makes no progress for this
    long (no ping from the peer, or our answer not taken).
    """

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
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        node.set_stream_handler(PING_PROTOCOL, self.handle)
        task_status.started()

    async def handle(self, stream: NetStream) -> None:
        """Echo 32-byte pings until the peer closes or sends a partial ping; reset the
        stream once idle: ``idle_timeout`` after a ping arrived, if the next has not (or
        our answer was not taken)."""
        idle_timeout = self.config.idle_timeout
        with trio.move_on_after(idle_timeout) as scope:
            while True:
                try:
                    payload = await _receive_ping(stream)
                except UnexpectedEOF:
                    if stream.buffered:
                        logger.debug("peer %s sent a partial ping", stream.remote_peer.short())
                    return
                scope.deadline = trio.current_time() + idle_timeout
                await stream.unwrapped().send_all(payload)
        logger.debug("ping stream from %s idle; resetting", stream.remote_peer.short())
        await stream.reset()


def ping(config: PingConfig | None = None) -> PingService:
    """The ping protocol factory (``config``: defaults when None)."""
    return PingService(config_arg(config, PingConfig, "ping(config)"))


async def _receive_ping(stream: NetStream) -> bytes | bytearray:
    """The next 32 bytes of ``stream``. A ping arrives whole in one muxer frame: with
    nothing buffered, read the muxed stream directly (one call instead of the buffering
    layer's), and fall back to
    :meth:`~p2pstack.bufstream.BufferedStream.receive_exactly` for a split one or EOF.

    Raises:
        UnexpectedEOF: the stream ended first (the partial bytes stay buffered).
    """
    raw = stream.unwrapped()
    if raw is not stream:
        data = await raw.receive_some(PING_SIZE)
        if len(data) == PING_SIZE:
            return data
        stream.unread(data)
    return await stream.receive_exactly(PING_SIZE)


async def _round_trip(stream: NetStream) -> float:
    """One ping on ``stream``: its round-trip time in seconds.

    Raises PingError if the echo differs (and the errors of the stream).
    """
    payload = os.urandom(PING_SIZE)
    start = trio.current_time()
    await stream.unwrapped().send_all(payload)
    echo = await _receive_ping(stream)
    rtt = trio.current_time() - start
    if echo != payload:
        raise PingError("ping answer differs from the request")
    return rtt


async def ping_peer(
    node: NodeContext,
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
        with trio.CancelScope() as scope:  # one scope, its deadline moved per ping
            for _ in range(count):
                scope.deadline = trio.current_time() + ping_timeout
                rtts.append(await _round_trip(stream))
        if scope.cancelled_caught:
            raise PingTimeout(f"no ping answer from {stream.remote_peer} within {ping_timeout} s")
        await stream.send_eof()
    finally:
        await stream.aclose()
    return rtts


@final
class Pinger:
    """Pings one peer, one :meth:`ping` at a time, over one ping stream.

    The stream opens on the first ping; if the peer closed it meanwhile (its idle timeout,
    30 s here), the next ping opens a fresh one. Use as an async context manager, or call
    :meth:`aclose`.
    """

    def __init__(
        self,
        node: NodeContext,
        target: Multiaddr | PeerId | str | Connection,
        *,
        ping_timeout: float = 10.0,
    ) -> None:
        if ping_timeout <= 0:
            raise ValueError("ping_timeout must be positive")
        self._node = node
        self._target = target
        self._timeout = ping_timeout
        self._stream: NetStream | None = None

    async def __aenter__(self) -> Pinger:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def ping(self) -> float:
        """One round trip; its time in seconds.

        Raises:
            PingTimeout: no answer within ``ping_timeout`` seconds (the stream is dropped).
            PingError: the echo differed from what was sent.
            DialError, NegotiationFailed, trio.BrokenResourceError.
        """
        with trio.move_on_after(self._timeout):
            reused = self._stream is not None
            try:
                return await _round_trip(await self._open())
            except (trio.BrokenResourceError, trio.ClosedResourceError, UnexpectedEOF):
                await self.aclose()
                if not reused:
                    raise
            logger.debug("ping stream was closed by the peer; opening another")
            return await _round_trip(await self._open())
        await self.aclose()
        raise PingTimeout(f"no ping answer within {self._timeout} s")

    async def _open(self) -> NetStream:
        if self._stream is None:
            self._stream = await self._node.new_stream(self._target, PING_PROTOCOL)
        return self._stream

    async def aclose(self) -> None:
        """Close the ping stream (if open). Idempotent."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()
