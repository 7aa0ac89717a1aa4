"""Three in-process nodes on loopback for the DCUtR tests: a relay, A listening through it
(TCP with port reuse), B connected to the relay; each peer with the DCUtR service given."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from p2pstack.compose import open_node
from p2pstack.host.events import Event
from p2pstack.host.node import Node
from p2pstack.host.service import Service
from p2pstack.protocols.identify import identify
from p2pstack.protocols.nat.dcutr import DCUtRService
from p2pstack.protocols.perf import perf
from p2pstack.protocols.ping import ping
from p2pstack.protocols.relay import RelayService, circuit_relay, relay_server
from p2pstack.transports.tcp import TcpConfig, tcp

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


@dataclass
class Bed:
    relay: Node
    relay_service: RelayService
    a: Node
    b: Node
    a_dcutr: DCUtRService | None
    b_dcutr: DCUtRService | None

    @property
    def circuit_to_a(self) -> str:
        return f"{self.relay.addrs[0]}/p2p-circuit/p2p/{self.a.peer_id}"


@asynccontextmanager
async def peer(
    services: Sequence[Service], reuse_port: bool = True, *, listen: bool = True
) -> AsyncIterator[Node]:
    async with open_node(
        transports=[tcp(TcpConfig(reuse_port=reuse_port)), circuit_relay()],
        listen=[LOOPBACK] if listen else [],
        protocols=[ping(), identify(), perf()],
        services=services,
    ) as node:
        yield node


@asynccontextmanager
async def bed(
    a_dcutr: DCUtRService | None, b_dcutr: DCUtRService | None, *, b_listens: bool = True
) -> AsyncIterator[Bed]:
    service = relay_server()
    async with (
        open_node(listen=[LOOPBACK], services=[service]) as relay,
        peer([a_dcutr] if a_dcutr else []) as a,
        peer([b_dcutr] if b_dcutr else [], listen=b_listens) as b,
    ):
        await a.listen(f"{relay.addrs[0]}/p2p-circuit")
        await b.dial(relay.addrs[0])
        yield Bed(relay, service, a, b, a_dcutr, b_dcutr)


async def first_event(
    events: trio.MemoryReceiveChannel[Event], kinds: tuple[type[Event], ...]
) -> Event:
    async for event in events:
        if isinstance(event, kinds):
            return event
    raise AssertionError("event stream ended")
