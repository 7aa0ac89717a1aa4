"""mDNS discovery: two nodes on 127.0.0.1 find each other and connect.

``mdns(MdnsConfig(interfaces=("127.0.0.1",)))`` keeps zeroconf on the loopback interface, so
nothing reaches the local network; on a LAN leave ``interfaces`` out. Each node announces its
listen addresses and publishes ``PeerDiscovered`` on ``node.events`` for each peer it hears;
the addresses also go to the peer store, so the node can dial the peer id.

Run: ``python examples/mdns_discovery.py`` (takes a few seconds: mDNS probes before it
announces).
"""

from __future__ import annotations

import trio

from p2pstack import open_node
from p2pstack.protocols.discovery.mdns import MdnsConfig, PeerDiscovered, mdns
from p2pstack.protocols.ping import ping_peer

LOOPBACK = ("127.0.0.1",)
LISTEN = ["/ip4/127.0.0.1/tcp/0"]


async def main() -> None:
    async with (
        open_node(listen=LISTEN, services=[mdns(MdnsConfig(interfaces=LOOPBACK))]) as a,
        open_node(listen=LISTEN, services=[mdns(MdnsConfig(interfaces=LOOPBACK))]) as b,
    ):
        with a.events.subscribe() as events, trio.fail_after(30):
            async for event in events:
                if isinstance(event, PeerDiscovered) and event.peer_id == b.peer_id:
                    print("a discovered b at", [str(addr) for addr in event.addrs])
                    break
        rtts = await ping_peer(a, b.peer_id, count=2)  # dialled from the peer store
        print(f"a pinged b: {len(rtts)} replies")


if __name__ == "__main__":
    trio.run(main)
