"""Nodes for tests: a TCP node on 127.0.0.1 and a connected in-memory pair."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from p2pstack.compose import open_node
from p2pstack.host.node import Node, NodeConfig
from p2pstack.host.service import Service
from p2pstack.muxers.yamux import yamux
from p2pstack.protocols.echo import echo
from p2pstack.protocols.identify import identify
from p2pstack.protocols.perf import perf
from p2pstack.protocols.ping import ping
from p2pstack.security import noise
from p2pstack.transports.memory import MemoryNetwork, memory

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def full_protocols() -> list[Service]:
    return [ping(), identify(), echo(), perf()]


@asynccontextmanager
async def tcp_node(
    protocols: Sequence[Service] | None = None,
    *,
    listen: bool = True,
    config: NodeConfig | None = None,
) -> AsyncIterator[Node]:
    async with open_node(
        listen=[LOOPBACK] if listen else [],
        protocols=list(protocols) if protocols is not None else full_protocols(),
        config=config,
    ) as node:
        yield node


@asynccontextmanager
async def node_pair(
    a_protocols: Sequence[Service] | None = None,
    b_protocols: Sequence[Service] | None = None,
    *,
    a_config: NodeConfig | None = None,
    b_config: NodeConfig | None = None,
    connect: bool = True,
) -> AsyncIterator[tuple[Node, Node]]:
    """Two nodes on a private memory network, with Noise and Yamux.

    ``a`` listens on ``/memory/0``; ``b`` does not listen and, unless ``connect`` is False, has
    dialled ``a`` before the block starts. Protocols default to open_node's (ping, identify).
    """
    network = MemoryNetwork()
    async with (
        open_node(
            transports=[memory(network)],
            security=[noise()],
            muxers=[yamux()],
            listen=["/memory/0"],
            protocols=a_protocols,
            config=a_config,
        ) as a,
        open_node(
            transports=[memory(network)],
            security=[noise()],
            muxers=[yamux()],
            protocols=b_protocols,
            config=b_config,
        ) as b,
    ):
        if connect:
            await b.dial(a.addrs[0])
        yield a, b
