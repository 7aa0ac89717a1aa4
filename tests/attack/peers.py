"""Attackers that are full peers built from our own library: many fresh identities, each
with one fully upgraded connection to the victim, holding streams or reservations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import trio

from p2pstack.compose import open_node
from p2pstack.errors import StackError
from p2pstack.host.connection import Connection
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.tcp import tcp

SETUP_CONCURRENCY: Final = 16
"""Handshakes an attacker runs at once while building its position."""
COME_BACK_DELAY: Final = 0.05
"""Pause before a refused or evicted peer returns as a new identity."""

PEER_ERRORS: Final = (
    StackError,
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
)

Occupy = Callable[[Connection], Awaitable[None]]
"""What each fresh peer does on its connection once upgraded (then it holds on)."""


@dataclass
class PeerFlood:
    """Counters of a flood of fresh peers."""

    connected: int = 0
    occupied: int = 0
    evicted: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def failure(self, exc: BaseException) -> None:
        self.failed += 1
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1


async def flood_with_peers(
    target: Multiaddr,
    count: int,
    occupy: Occupy,
    stats: PeerFlood,
    established: trio.Event,
    *,
    come_back: bool = False,
) -> None:
    """``count`` fresh identities connect to ``target`` (at most SETUP_CONCURRENCY
    handshakes at once), run ``occupy`` and hold their connection until cancelled; with
    ``come_back``, a peer whose connection the victim closes (or refuses) returns at once as
    another fresh identity. Sets ``established`` once every peer has tried once."""
    limiter = trio.CapacityLimiter(SETUP_CONCURRENCY)
    remaining = [count]

    def tried() -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            established.set()

    async def visit(first: list[bool]) -> None:
        """One fresh identity: connect, occupy, hold until the victim hangs up."""
        async with open_node(protocols=[], transports=[tcp()]) as node:
            async with limiter:
                conn = await node.dial(target)
                stats.connected += 1
                await occupy(conn)
                stats.occupied += 1
            if first:
                first.clear()
                tried()
            if not come_back:
                await trio.sleep_forever()
            await conn.wait_closed()
            stats.evicted += 1

    async def peer() -> None:
        first = [True]
        while True:
            try:
                await visit(first)
            except* PEER_ERRORS as group:
                for exc in group.exceptions:
                    stats.failure(exc)
            if first:
                first.clear()
                tried()
            if not come_back:
                return
            await trio.sleep(COME_BACK_DELAY)

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(peer)
