from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from protocols.echo import echo
from protocols.identify import identify
from protocols.perf import perf
from protocols.ping import ping
from stack.node import Node, NodeConfig, open_node
from stack.service import Service

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
