from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from p2pstack.host.node import Node, NodeConfig, open_node
from p2pstack.host.service import Service
from p2pstack.protocols.echo import echo
from p2pstack.protocols.identify import identify
from p2pstack.protocols.perf import perf
from p2pstack.protocols.ping import ping

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def full_services() -> list[Service]:
    return [ping(), identify(), echo(), perf()]


@asynccontextmanager
async def tcp_node(
    services: Sequence[Service] | None = None,
    *,
    listen: bool = True,
    config: NodeConfig | None = None,
) -> AsyncIterator[Node]:
    async with open_node(
        listen=[LOOPBACK] if listen else [],
        protocols=list(services) if services is not None else full_services(),
        config=config,
    ) as node:
        yield node
