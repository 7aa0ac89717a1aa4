"""Circuit relay v2: a relay server, a node listening through it, and a node dialling it.

The listener makes a reservation on the relay (``listen(".../p2p-circuit")``) and is then
reachable at ``<relay addr>/p2p-circuit/p2p/<listener id>``; the dialler dials that address
and pings through the relay. Relayed connections are *limited* (time and bytes, set by the
relay): only protocols that opt in (ping and identify do) run over them.

Run: ``python examples/relay.py`` (three nodes on 127.0.0.1).
"""

from __future__ import annotations

import trio

from p2pstack import open_node
from p2pstack.protocols.ping import ping_peer
from p2pstack.protocols.relay import RelayConfig, relay_server


async def main() -> None:
    service = relay_server(RelayConfig())  # the defaults, spelled out
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], services=[service]) as relay,
        open_node() as listener,  # the default transports include the relay client transport
        open_node() as dialler,
    ):
        reserved = await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        print("listener reserved:", [str(a) for a in reserved])
        circuit = next(a for a in listener.addrs if a.has_protocol("p2p-circuit"))
        print("listener reachable at", circuit)

        conn = await dialler.dial(circuit)
        print("dialled", conn.peer_id == listener.peer_id, "limited:", conn.limited)
        rtts = await ping_peer(dialler, conn, count=3)
        print(f"relayed ping: {len(rtts)} replies, {min(rtts) * 1000:.2f} ms min")


if __name__ == "__main__":
    trio.run(main)
