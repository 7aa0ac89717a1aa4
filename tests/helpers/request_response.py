"""Request-response test helpers: a node pair, echo and request-only services, events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from p2pstack.host.events import Event
from p2pstack.host.node import Node, NodeConfig
from p2pstack.host.service import Service
from p2pstack.protocols.request_response import (
    InboundFailure,
    JsonCodec,
    RequestContext,
    RequestResponse,
    request_response,
)
from tests.helpers.nodes import node_pair

PROTOCOL = "/test/rr/1"


@asynccontextmanager
async def memory_pair(
    server_protocols: Sequence[Service],
    client_protocols: Sequence[Service],
    server_config: NodeConfig | None = None,
) -> AsyncIterator[tuple[Node, Node]]:
    """A listening server node and a client node (not yet connected): :func:`node_pair`."""
    async with node_pair(
        server_protocols, client_protocols, a_config=server_config, connect=False
    ) as (server, client):
        yield server, client


async def echo_handler(request: Any, context: RequestContext) -> Any:
    return {"echo": request}


def server_rr(**kwargs: Any) -> RequestResponse[Any, Any]:
    """A JSON echo service on PROTOCOL (keyword arguments go to request_response)."""
    kwargs.setdefault("handler", echo_handler)
    return request_response(PROTOCOL, JsonCodec(), **kwargs)


def client_rr(**kwargs: Any) -> RequestResponse[Any, Any]:
    """A JSON request-only service on PROTOCOL."""
    return request_response(PROTOCOL, JsonCodec(), serve=False, **kwargs)


def drain(events: trio.MemoryReceiveChannel[Event]) -> list[Event]:
    """Every event received so far."""
    out: list[Event] = []
    while True:
        try:
            out.append(events.receive_nowait())
        except trio.WouldBlock:
            return out


def failures(events: list[Event], kind: type[Event] = InboundFailure) -> list[Exception]:
    """The errors of the request-response failure events of ``kind``."""
    return [e.error for e in events if isinstance(e, kind) and hasattr(e, "error")]
