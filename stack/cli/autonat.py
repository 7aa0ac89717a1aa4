"""The ``--autonat*`` options of ``p2pstack node`` and the JSON lines reporting reachability."""

from __future__ import annotations

import argparse

from p2pstack.cli.common import emit_json
from p2pstack.host.node import Node
from p2pstack.host.reachability import ReachabilityChanged
from p2pstack.protocols.nat.autonat import AutoNATConfig, AutoNATService, autonat


def add_autonat_arguments(parser: argparse.ArgumentParser) -> None:
    """``--autonat``, ``--autonat-server``, ``--autonat-allow-private``,
    ``--autonat-confirmations`` (also config-file keys and ``P2PSTACK_AUTONAT*``)."""
    group = parser.add_argument_group("AutoNAT (reachability)")
    group.add_argument(
        "--autonat",
        action="store_true",
        help="measure reachability with AutoNAT (v2; v1 with peers that speak only v1),"
        " print it as JSON lines and announce observed addresses confirmed public",
    )
    group.add_argument(
        "--autonat-server",
        action="store_true",
        help="dial peers back when they ask (AutoNAT v1 and v2, rate-limited)",
    )
    group.add_argument(
        "--autonat-allow-private",
        action="store_true",
        help="test and dial private and loopback addresses too (labs and tests only)",
    )
    group.add_argument(
        "--autonat-confirmations",
        type=int,
        default=3,
        metavar="N",
        help="servers that must agree on an address's verdict (default 3)",
    )


def autonat_service(args: argparse.Namespace) -> AutoNATService | None:
    """The AutoNAT service the options ask for, or None."""
    client = bool(getattr(args, "autonat", False))
    server = bool(getattr(args, "autonat_server", False))
    if not (client or server):
        return None
    confirmations = args.autonat_confirmations
    return autonat(
        AutoNATConfig(
            client=client,
            server=server,
            allow_private_addrs=args.autonat_allow_private,
            min_confirmations=confirmations,
            max_servers=max(5, confirmations),
        )
    )


async def report_reachability(node: Node) -> None:
    """Print ``{"event": "reachability", "source", "overall", "addrs"}`` on every change."""
    with node.events.subscribe() as events:
        async for event in events:
            if isinstance(event, ReachabilityChanged):
                emit_json(
                    {"event": "reachability", "source": event.source, **event.status.to_json()}
                )
