"""The security protocols the security suite runs over, each with the raw streams under it.

A :class:`SecurityUnderTest` is a ``SecurityTransport`` and how to connect two raw streams for
it (plus, optionally, lockstep streams for trio's clogged checks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio
import trio.testing

from p2pstack.abc.security import SecurityTransport
from p2pstack.security import noise, tls
from p2pstack.transports.tcp_stream import TcpStream

RawPair = tuple[trio.abc.Stream, trio.abc.Stream]
RawPairMaker = Callable[[], Awaitable[RawPair]]


@dataclass(frozen=True)
class SecurityUnderTest:
    security: SecurityTransport
    raw_pair: RawPairMaker
    clogged_raw_pair: RawPairMaker | None = None
    """Raw streams on which every send blocks until the other end reads (lockstep)."""


async def memory_pair() -> RawPair:
    return trio.testing.memory_stream_pair()


async def lockstep_pair() -> RawPair:
    return trio.testing.lockstep_stream_pair()


async def trio_socket_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    """trio's own socket streams: no receive_into, no atomic sends (the generic path)."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    await listeners[0].aclose()
    return client, server


async def tcp_pair() -> RawPair:
    """The TCP transport's streams (receive_into, atomic sends: the fast paths)."""
    client, server = await trio_socket_pair()
    return TcpStream.from_trio(client), TcpStream.from_trio(server)


SECURITY: dict[str, Callable[[], SecurityUnderTest]] = {
    "noise-memory": lambda: SecurityUnderTest(noise(), memory_pair, lockstep_pair),
    "noise-tcp": lambda: SecurityUnderTest(noise(), tcp_pair),
    "noise-trio-socket": lambda: SecurityUnderTest(noise(), trio_socket_pair),
    "tls-memory": lambda: SecurityUnderTest(tls(), memory_pair, lockstep_pair),
    "tls-tcp": lambda: SecurityUnderTest(tls(), tcp_pair),
}
"""Every security protocol we ship, over the raw streams it meets, by test id."""
