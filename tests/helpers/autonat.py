"""AutoNAT test helpers: a node running the service, waiting for a verdict, a closed port."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from p2pstack.compose import open_node
from p2pstack.host.node import Node
from p2pstack.host.reachability import Reachability, ReachabilityChanged, ReachabilityStatus
from p2pstack.protocols.identify import identify
from p2pstack.protocols.nat.autonat import AutoNATConfig, AutoNATService, autonat

SERVER = AutoNATConfig(client=False, server=True, allow_private_addrs=True)
"""A server that dials loopback and private addresses (tests and labs only)."""


def closed_port() -> int:
    """A loopback TCP port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def autonat_node(
    config: AutoNATConfig, listen: list[str] | None = None
) -> AsyncIterator[tuple[Node, AutoNATService]]:
    """A node with identify and ``autonat(config)``, on loopback unless ``listen`` says."""
    service = autonat(config)
    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"] if listen is None else listen,
        protocols=[identify()],
        services=[service],
    ) as node:
        yield node, service


async def reachability(node: Node, wanted: Reachability) -> ReachabilityStatus:
    """Wait (10 s at most) until AutoNAT set ``node``'s overall verdict to ``wanted``."""
    with node.events.subscribe() as events, trio.fail_after(10):
        if node.reachability.overall is wanted:
            return node.reachability
        async for event in events:
            if isinstance(event, ReachabilityChanged) and event.status.overall is wanted:
                assert event.source == "autonat"
                return event.status
    raise AssertionError("unreachable")
