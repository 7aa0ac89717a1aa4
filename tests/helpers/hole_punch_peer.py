"""A p2pstack process for the two-NAT scenario: ``python -m tests.helpers.hole_punch_peer``.

``relay --listen ADDR``: a relay server. ``autonat --listen ADDR``: a public AutoNAT server
(v1 + v2, public address policy, TCP port reuse). ``peer --listen ADDR --relay RELAY``: a
node with TCP port reuse and DCUtR that connects to the relay (identify tells it its public
address). With ``--autonat SERVER`` (repeated) it also runs ``autonat()`` and ``auto_relay()``
(the relay as a static candidate, not forced): it dials the servers, AutoNAT decides its
reachability, and auto-relay reserves on the relay only when that verdict is PRIVATE.
With ``--upnp ROOT_URL`` it also maps its port on the gateway (``upnp()``) and prints
``{"event": "UpnpMapped", "addrs": ..., "reachability": ...}`` (the node's verdict then:
a mapping alone changes nothing) before it dials anyone. Without ``--autonat`` it reserves
explicitly (``node.listen(RELAY/p2p-circuit)``: the interop test's peers have no AutoNAT
servers).
All print JSON lines (``{"started": ...}`` first, then events: ``ReachabilityChanged``,
``RelayReserved``/``RelayDropped``, ``HolePunchSucceeded``/``HolePunchFailed``) and take
commands on stdin, one per line:

- ``dial ADDR``: dial (a circuit address) -> ``{"dialled": ..., "limited": ...}``
- ``perf PEER BYTES``: perf over the connection new streams to PEER use -> ``{"perf": ...}``
  (refused with ``{"perf_error": ...}`` when it is limited)
- ``ping PEER``: one ping over that connection, limited or not -> ``{"ping": ...}``
- ``stats``: ``{"stats": ...}`` (the relay's byte counter, an AutoNAT server's outcome
  counts, or the peer's DCUtR counters)
- ``conns``: ``{"conns": [{"peer", "addr", "limited"}...]}``, the open connections

To add a service to the peers, append it in :func:`peer_services`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

import trio

from p2pstack.compose import open_node
from p2pstack.host.connection import Connection
from p2pstack.host.node import Node
from p2pstack.host.reachability import ReachabilityChanged
from p2pstack.host.service import Service
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import IdentifyService, identify
from p2pstack.protocols.nat import NatState, UpnpConfig, UpnpService, upnp
from p2pstack.protocols.nat.autonat import AutoNATConfig, AutoNATService, autonat
from p2pstack.protocols.nat.dcutr import (
    DCUtRConfig,
    DCUtRService,
    HolePunchFailed,
    HolePunchSucceeded,
    dcutr,
)
from p2pstack.protocols.perf import perf, perf_peer
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.protocols.relay import RelayService, circuit_relay, relay_server
from p2pstack.protocols.relay.discovery import (
    AutoRelayConfig,
    RelayDropped,
    RelayReserved,
    auto_relay,
)
from p2pstack.transports.tcp import TcpConfig, tcp


def out(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


AUTONAT_SERVER = AutoNATConfig(client=False, server=True, dial_timeout=2.0)
"""A public server (no private addresses); the bed's NATs drop unsolicited SYNs, so a
dial-back that cannot get in times out: 2 s keeps the scenario short."""


def peer_services(args: argparse.Namespace) -> list[Service]:
    """The services of a peer: DCUtR (timeouts sized for the bed); with AutoNAT servers,
    the AutoNAT client (every server must agree) and auto-relay (the relay a static
    candidate, reserved on only when AutoNAT says private)."""
    config = DCUtRConfig(dial_timeout=args.dial_timeout, stream_timeout=30.0)
    services: list[Service] = [dcutr(config)]
    if args.autonat:
        n = len(args.autonat)
        services.append(autonat(AutoNATConfig(min_confirmations=n, max_servers=n,
                                              request_timeout=10.0)))  # fmt: skip
        relays = (Multiaddr(args.relay),)
        services.append(auto_relay(AutoRelayConfig(relays=1, static_relays=relays)))
    if args.upnp:
        services.append(upnp(UpnpConfig(root_url=args.upnp)))
    return services


Stats = RelayService | AutoNATService | DCUtRService | None


def stats_of(service: Stats) -> dict[str, Any]:
    if isinstance(service, RelayService):
        return dict(service.metrics.snapshot())
    if isinstance(service, AutoNATService):
        return dict(service.server.stats) if service.server is not None else {}
    return dict(service.stats) if service is not None else {}


async def commands(node: Node, service: Stats) -> None:
    while True:
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        verb, *rest = line.split()
        try:
            await command(node, service, verb, rest)
        except Exception as exc:  # reported, the process keeps serving
            out(**{f"{verb}_error": f"{type(exc).__name__}: {exc}"})


async def command(node: Node, service: Stats, verb: str, rest: list[str]) -> None:
    if verb == "stats":
        out(stats=stats_of(service))
    elif verb == "conns":
        out(conns=[{"peer": str(c.peer_id), "addr": str(c.remote_addr), "limited": c.limited}
                   for c in node.connections])  # fmt: skip
    elif verb == "dial":
        dialled = await node.dial(rest[0])
        out(dialled=str(dialled.remote_addr), limited=dialled.limited)
    elif verb in ("perf", "ping"):
        conn = node.connection_to(PeerId.from_string(rest[0]))
        if conn is None:
            raise LookupError(f"no connection to {rest[0]}")
        via = {"via": str(conn.remote_addr), "limited": conn.limited, "role": conn.role.value}
        if verb == "ping":
            rtts = await ping_peer(node, conn, count=1)
            out(ping=rtts[0], **via)
            return
        size = int(rest[1])
        result = await perf_peer(node, conn, upload=size, download=size)
        out(perf={"upload": result.upload_bytes, "download": result.download_bytes,
                  "seconds": result.total_seconds}, **via)  # fmt: skip
    else:
        raise ValueError(f"unknown command {verb!r}")


async def print_events(node: Node) -> None:
    with node.events.subscribe() as events:
        async for event in events:
            if isinstance(event, HolePunchSucceeded):
                out(event="HolePunchSucceeded", peer=str(event.peer), addr=str(event.addr),
                    rtt=event.rtt, attempts=event.attempts, initiator=event.initiator)  # fmt: skip
            elif isinstance(event, HolePunchFailed):
                out(event="HolePunchFailed", peer=str(event.peer), reason=event.reason,
                    attempts=event.attempts, initiator=event.initiator)  # fmt: skip
            elif isinstance(event, ReachabilityChanged):
                out(event="ReachabilityChanged", source=event.source,
                    status=event.status.to_json(), previous=event.previous.to_json())  # fmt: skip
            elif isinstance(event, RelayReserved):
                out(event="RelayReserved", relay=str(event.relay),
                    addrs=[str(a) for a in event.addrs])  # fmt: skip
            elif isinstance(event, RelayDropped):
                out(event="RelayDropped", relay=str(event.relay), reason=event.reason)


async def run_relay(args: argparse.Namespace) -> None:
    service = relay_server()
    async with open_node(listen=[args.listen], services=[service]) as node:
        out(started=True, peer_id=str(node.peer_id), addrs=[str(a) for a in node.addrs])
        await commands(node, service)


async def run_autonat(args: argparse.Namespace) -> None:
    service = autonat(AUTONAT_SERVER)
    async with open_node(
        transports=[tcp(TcpConfig(reuse_port=True))],
        listen=[args.listen],
        protocols=[identify()],
        services=[service],
    ) as node:
        out(started=True, peer_id=str(node.peer_id), addrs=[str(a) for a in node.addrs])
        await commands(node, service)


async def run_peer(args: argparse.Namespace) -> None:
    services = peer_services(args)
    punch = next((s for s in services if isinstance(s, DCUtRService)), None)
    ident = identify()
    ident.observed.threshold = args.observers
    async with open_node(
        transports=[tcp(TcpConfig(reuse_port=True)), circuit_relay()],
        listen=[args.listen],
        protocols=[ping(), ident, perf()],
        services=services,
    ) as node:
        node.spawn(print_events, node)
        for service in services:
            if isinstance(service, UpnpService):  # map first, then meet the servers
                with trio.fail_after(10):
                    while not service.state.mappings:
                        await service.wait_changed(service.state.version)
                _mapped(node, service.state)
        for addr in [args.relay, *args.autonat]:
            await _identified(ident, await node.dial(Multiaddr(addr)))
        if not args.autonat:
            await node.listen(f"{args.relay}/p2p-circuit")
        out(started=True, peer_id=str(node.peer_id), observed=sorted(ident.observed_addrs),
            ours=[str(a) for a in punch.our_addrs()] if punch else [])  # fmt: skip
        await commands(node, punch)


def _mapped(node: Node, state: NatState) -> None:
    if state.mappings:
        out(event="UpnpMapped", addrs=[str(m.external_addr) for m in state.mappings],
            reachability=node.reachability.overall.value)  # fmt: skip


async def _identified(ident: IdentifyService, conn: Connection) -> None:
    with trio.fail_after(10):
        await ident.wait_identified(conn)


def main() -> None:
    parser = argparse.ArgumentParser(prog="hole_punch_peer")
    parser.add_argument("role", choices=["relay", "autonat", "peer"])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--relay")
    parser.add_argument("--autonat", action="append", default=[], help="an AutoNAT server")
    parser.add_argument("--upnp", metavar="ROOT_URL", help="map the port on this gateway")
    parser.add_argument("--observers", type=int, default=4,
                        help="observer groups that confirm an observed address")  # fmt: skip
    parser.add_argument("--dial-timeout", type=float, default=3.0)
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("HOLE_PUNCH_PEER_LOG", "WARNING"), stream=sys.stderr)
    roles = {"relay": run_relay, "autonat": run_autonat, "peer": run_peer}
    trio.run(roles[args.role], args)


if __name__ == "__main__":
    main()
