"""A p2pstack node with mDNS for the namespace tests: it reports what it finds and connects.

``python -m tests.integration.discovery.agent --listen MA --interface IP`` prints (JSON lines):
``{"peer_id", "listen_addrs"}`` once listening; ``{"discovered": id, "addrs": [...]}`` per
:class:`PeerDiscovered` event; then, after dialling the peer by id (the addresses came from
mDNS into the peer store), identify and one ping: ``{"connected": id, "agent": ...,
"ping_ms": ...}`` or ``{"dial_failed": id, "error": ...}``. Runs until stdin closes or
SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import trio

from p2pstack.compose import open_node
from p2pstack.host.node import Node
from p2pstack.identity import PeerId
from p2pstack.protocols.discovery.mdns import MdnsConfig, PeerDiscovered, mdns
from p2pstack.protocols.identify import IdentifyService, identify
from p2pstack.protocols.ping import ping, ping_peer
from tests.helpers.agent import emit, until_stopped


async def connect(node: Node, ident: IdentifyService, peer: PeerId) -> None:
    """Dial, identify, ping; retried because the peer may dial us at the same moment (the
    node then keeps one of the two connections and the other one closes under us)."""
    error = ""
    for _ in range(3):
        try:
            with trio.fail_after(20):
                await node.dial(peer)
                conn = node.connection_to(peer)
                assert conn is not None, "no live connection after dialling"
                info = await ident.wait_identified(conn)
                assert info is not None, "identify failed"
                (rtt,) = await ping_peer(node, conn, count=1)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            await trio.sleep(0.5)
            continue
        emit({"connected": str(peer), "agent": info.agent_version, "ping_ms": rtt * 1000})
        return
    emit({"dial_failed": str(peer), "error": error})


async def main(args: argparse.Namespace) -> None:
    ident = identify()
    service = mdns(MdnsConfig(interfaces=tuple(args.interface)))
    async with open_node(protocols=[ping(), ident], services=[service]) as node:
        with node.events.subscribe() as events:
            for addr in args.listen:
                await node.listen(addr)
            emit({"peer_id": str(node.peer_id), "listen_addrs": [str(a) for a in node.addrs]})
            async with trio.open_nursery() as nursery:

                async def watch() -> None:
                    seen: set[PeerId] = set()
                    async for event in events:
                        if isinstance(event, PeerDiscovered) and event.peer_id not in seen:
                            seen.add(event.peer_id)
                            emit(
                                {
                                    "discovered": str(event.peer_id),
                                    "addrs": [str(a) for a in event.addrs],
                                }
                            )
                            nursery.start_soon(connect, node, ident, event.peer_id)

                nursery.start_soon(watch)
                await until_stopped()
                nursery.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", action="append", required=True)
    parser.add_argument("--interface", action="append", required=True)
    logging.basicConfig(
        level=os.environ.get("AGENT_LOG", "INFO"),
        stream=sys.stderr,
        format="agent %(relativeCreated)d %(name)s %(message)s",
    )
    trio.run(main, parser.parse_args())
