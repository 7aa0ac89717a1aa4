"""Closing a node's connections on shutdown: :func:`close_connections`."""

from __future__ import annotations

from collections.abc import Iterable

import trio

from p2pstack.host.connection import Connection


async def close_connections(connections: Iterable[Connection], *, grace: float) -> None:
    """Close ``connections`` gracefully, relayed ones first, for at most ``grace`` seconds.

    Relayed connections run over the others: closed first, their circuits end with an
    end-of-stream the relay sees, not a reset. Returns when all closed or ``grace`` ran out.
    """
    relayed: list[Connection] = []
    direct: list[Connection] = []
    for conn in connections:
        is_relayed = conn.remote_addr.has_protocol("p2p-circuit")
        (relayed if is_relayed else direct).append(conn)
    with trio.move_on_after(grace):
        for group in (relayed, direct):
            async with trio.open_nursery() as nursery:
                for conn in group:
                    nursery.start_soon(conn.aclose)
