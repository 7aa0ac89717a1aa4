"""``p2pstack discover --mdns``: list the peers mDNS finds on the local network."""

from __future__ import annotations

import argparse
import logging
from typing import Final

import trio

from p2pstack.cli.common import client_node, console, emit_json
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.mdns import MdnsConfig, MdnsService, PeerDiscovered, mdns

logger: Final = logging.getLogger("p2pstack.cli")


def add_discover_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``p2pstack discover``."""
    parser.add_argument(
        "--mdns", action="store_true", required=True, help="discover with mDNS (required)"
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to listen (default 5)")
    parser.add_argument(
        "--interface",
        action="append",
        metavar="IP",
        help="interface address to use (repeatable; default every IPv4 interface)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per peer on stdout")


def mdns_service(value: str | None, *, advertise: bool = True) -> MdnsService:
    """The service for ``--mdns[=IP,IP...]``: ``"*"`` (or empty) means every IPv4 interface."""
    interfaces = None
    if value and value != "*":
        interfaces = tuple(ip.strip() for ip in value.split(",") if ip.strip()) or None
    return mdns(MdnsConfig(interfaces=interfaces, advertise=advertise))


async def cmd_discover(args: argparse.Namespace) -> int:
    """Browse for ``--timeout`` seconds; print each peer once, when first found."""
    if args.timeout <= 0:
        raise ValueError("--timeout must be positive")
    interfaces = tuple(args.interface) if args.interface else None
    service = mdns(MdnsConfig(interfaces=interfaces, advertise=False))
    printed: set[PeerId] = set()

    def report(peer: PeerId, addrs: tuple[Multiaddr, ...]) -> None:
        if peer in printed:
            return
        printed.add(peer)
        if args.json:
            emit_json({"peer_id": str(peer), "addrs": [str(a) for a in addrs]})
        else:
            console.print(f"[bold]{peer}[/]")
            for addr in addrs:
                console.print(f"  {addr}")

    async with client_node(services=[service]) as node:
        with node.events.subscribe() as events, trio.move_on_after(args.timeout):
            for peer, addrs in service.peers().items():  # found before we subscribed
                report(peer, addrs)
            async for event in events:
                if isinstance(event, PeerDiscovered):
                    report(event.peer_id, event.addrs)
    if not args.json:
        console.print(f"{len(printed)} peer(s) found in {args.timeout:g} s")
    return 0
