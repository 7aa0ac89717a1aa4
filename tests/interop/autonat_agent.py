"""A p2pstack node running AutoNAT, for the namespace tests.

``python -m tests.interop.autonat_agent [--listen MA ...] [--announce MA ...] [--dial MA ...]
[--client] [--server] [--confirmations N]`` prints (JSON lines): ``{"peer_id",
"listen_addrs"}`` once listening; ``{"event": "reachability", "overall", "addrs"}`` on every
change; and, when stdin closes (or on SIGTERM), ``{"stats": <server counts>, "probes":
[[version, server, addr, reachable, reason], ...]}`` before it exits. Private addresses are
neither tested nor dialled (a public configuration). ``AUTONAT_AGENT_LOG=DEBUG`` logs to
stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import trio

from p2pstack.compose import open_node
from p2pstack.host.reachability import ReachabilityChanged
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.protocols.nat.autonat import AutoNATConfig, AutoNATService, autonat
from tests.helpers.agent import emit, until_stopped


def final_report(service: AutoNATService) -> dict[str, object]:
    probes = [
        [p.version, str(p.server), str(p.addr), p.reachable, p.reason] for p in service.probes
    ]
    stats = service.server.stats if service.server is not None else {}
    return {"stats": stats, "probes": probes}


async def main(args: argparse.Namespace) -> None:
    config = AutoNATConfig(
        client=args.client,
        server=args.server,
        min_confirmations=args.confirmations,
        max_servers=max(args.confirmations, 5),
    )
    service = autonat(config)
    async with open_node(listen=args.listen, protocols=[identify()], services=[service]) as node:
        node.set_announced_addrs([Multiaddr(a) for a in args.announce])
        with node.events.subscribe() as events:
            emit({"peer_id": str(node.peer_id), "listen_addrs": [str(a) for a in node.addrs]})

            async def report() -> None:
                async for event in events:
                    if isinstance(event, ReachabilityChanged):
                        emit({"event": "reachability", **event.status.to_json()})

            async with trio.open_nursery() as nursery:
                nursery.start_soon(report)
                for addr in args.dial:
                    await node.dial(Multiaddr(addr))
                await until_stopped()
                nursery.cancel_scope.cancel()
        emit(final_report(service))


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="autonat_agent")
    p.add_argument("--listen", action="append", default=[])
    p.add_argument("--announce", action="append", default=[])
    p.add_argument("--dial", action="append", default=[])
    p.add_argument("--client", action="store_true")
    p.add_argument("--server", action="store_true")
    p.add_argument("--confirmations", type=int, default=2)
    return p.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("AUTONAT_AGENT_LOG", "WARNING"))
    trio.run(main, parse(sys.argv[1:]))
