"""A p2pstack process for the two-NAT scenario: ``python -m tests.helpers.hole_punch_peer``.

``relay --listen ADDR``: a relay server. ``peer --listen ADDR --relay RELAY``: a node with
TCP port reuse and DCUtR that connects to the relay (identify tells it its public address)
and reserves a slot on it. Both print JSON lines (``{"started": ...}`` first, then events:
``HolePunchSucceeded``/``HolePunchFailed``) and take commands on stdin, one per line:

- ``dial ADDR``: dial (a circuit address) -> ``{"dialled": ..., "limited": ...}``
- ``perf PEER BYTES``: perf over the connection new streams to PEER use -> ``{"perf": ...}``
  (refused with ``{"perf_error": ...}`` when it is limited)
- ``ping PEER``: one ping over that connection, limited or not -> ``{"ping": ...}``
- ``stats``: ``{"stats": ...}`` (the relay's byte counter, or the peer's DCUtR counters)

To add a service to the peers (AutoNAT, say), append it in :func:`peer_services`.
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
from p2pstack.host.service import Service
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import IdentifyService, identify
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
from p2pstack.transports.tcp import TcpConfig, tcp


def out(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def peer_services(args: argparse.Namespace) -> list[Service]:
    """The services of a peer: DCUtR (timeouts sized for the bed)."""
    config = DCUtRConfig(dial_timeout=args.dial_timeout, stream_timeout=30.0)
    return [dcutr(config)]


async def commands(node: Node, relay: RelayService | None, punch: DCUtRService | None) -> None:
    while True:
        line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        verb, *rest = line.split()
        try:
            await command(node, relay, punch, verb, rest)
        except Exception as exc:  # reported, the process keeps serving
            out(**{f"{verb}_error": f"{type(exc).__name__}: {exc}"})


async def command(
    node: Node,
    relay: RelayService | None,
    punch: DCUtRService | None,
    verb: str,
    rest: list[str],
) -> None:
    if verb == "stats":
        stats = (
            relay.metrics.snapshot() if relay is not None else dict(punch.stats if punch else {})
        )
        out(stats=stats)
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


async def run_relay(args: argparse.Namespace) -> None:
    service = relay_server()
    async with open_node(listen=[args.listen], services=[service]) as node:
        out(started=True, peer_id=str(node.peer_id), addrs=[str(a) for a in node.addrs])
        await commands(node, service, None)


async def run_peer(args: argparse.Namespace) -> None:
    services = peer_services(args)
    punch = next((s for s in services if isinstance(s, DCUtRService)), None)
    ident = identify()
    async with open_node(
        transports=[tcp(TcpConfig(reuse_port=True)), circuit_relay()],
        listen=[args.listen],
        protocols=[ping(), ident, perf()],
        services=services,
    ) as node:
        node.spawn(print_events, node)
        relay_conn = await node.dial(Multiaddr(args.relay))
        await _identified(ident, relay_conn)
        await node.listen(f"{args.relay}/p2p-circuit")
        out(started=True, peer_id=str(node.peer_id), observed=sorted(ident.observed_addrs),
            ours=[str(a) for a in punch.our_addrs()] if punch else [])  # fmt: skip
        await commands(node, None, punch)


async def _identified(ident: IdentifyService, conn: Connection) -> None:
    with trio.fail_after(10):
        await ident.wait_identified(conn)


def main() -> None:
    parser = argparse.ArgumentParser(prog="hole_punch_peer")
    parser.add_argument("role", choices=["relay", "peer"])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--relay")
    parser.add_argument("--dial-timeout", type=float, default=3.0)
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("HOLE_PUNCH_PEER_LOG", "WARNING"), stream=sys.stderr)
    trio.run(run_relay if args.role == "relay" else run_peer, args)


if __name__ == "__main__":
    main()
