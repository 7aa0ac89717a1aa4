"""trio helpers for the Yamux tests: session pairs over memory streams and TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import trio
import trio.testing

from p2pstack.muxers.yamux import YamuxConfig, YamuxSession
from p2pstack.role import Role
from p2pstack.transports.tcp_stream import TcpStream
from tests.helpers.yamux_core import parse_frames

StreamPair = tuple[trio.abc.Stream, trio.abc.Stream]
PairMaker = Callable[[], Awaitable[StreamPair]]


async def memory_pair() -> StreamPair:
    return trio.testing.memory_stream_pair()


async def tcp_pair() -> StreamPair:
    """A connected pair of :class:`TcpStream` (the TCP transport's stream) over 127.0.0.1."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listener = listeners[0]
    port = listener.socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listener.accept()
    await listener.aclose()
    return TcpStream.from_trio(client), TcpStream.from_trio(server)


async def start_pair(
    nursery: trio.Nursery,
    make_pair: PairMaker = memory_pair,
    config: YamuxConfig | None = None,
    server_config: YamuxConfig | None = None,
) -> tuple[YamuxSession, YamuxSession]:
    """Two running sessions (initiator, responder) connected back to back."""
    left, right = await make_pair()
    client = YamuxSession(left, role=Role.INITIATOR, config=config)
    server = YamuxSession(right, role=Role.RESPONDER, config=server_config or config)
    await nursery.start(client.run)
    await nursery.start(server.run)
    return client, server


@asynccontextmanager
async def session_pair(
    make_pair: PairMaker = memory_pair,
    config: YamuxConfig | None = None,
    server_config: YamuxConfig | None = None,
) -> AsyncIterator[tuple[YamuxSession, YamuxSession]]:
    """Like :func:`start_pair` with its own nursery; both sessions are closed on exit."""
    async with trio.open_nursery() as nursery:
        client, server = await start_pair(nursery, make_pair, config, server_config)
        try:
            yield client, server
        finally:
            await client.aclose()
            await server.aclose()


class RawPeer:
    """The far end of a session, driven frame by frame by a test."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._buffer = bytearray()

    async def send(self, *frames: bytes) -> None:
        await self.stream.send_all(b"".join(frames))

    async def next_frame(self) -> tuple[int, int, int, int, bytes] | None:
        """The next frame the session sent, or None at EOF."""
        while True:
            if len(self._buffer) >= 12:
                length = int.from_bytes(self._buffer[8:12], "big")
                size = 12 + (length if self._buffer[1] == 0 else 0)
                if len(self._buffer) >= size:
                    raw = bytes(self._buffer[:size])
                    del self._buffer[:size]
                    return parse_frames(raw)[0]
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                data = b""
            if not data:
                return None
            self._buffer += data

    async def expect(self, ftype: int, flags: int, sid: int) -> tuple[int, int, int, int, bytes]:
        """Skip frames until one matches (type, flags, stream id)."""
        while (got := await self.next_frame()) is not None:
            if got[:3] == (ftype, flags, sid):
                return got
        raise AssertionError(f"EOF before frame {(ftype, flags, sid)}")


async def raw_session(
    nursery: trio.Nursery, *, role: Role = Role.RESPONDER, config: YamuxConfig | None = None
) -> tuple[YamuxSession, RawPeer]:
    """A running session whose peer is a :class:`RawPeer`."""
    left, right = trio.testing.memory_stream_pair()
    session = YamuxSession(left, role=role, config=config)
    await nursery.start(session.run)
    return session, RawPeer(right)
