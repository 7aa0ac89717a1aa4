"""Fair admission and trimming on a running node."""

from __future__ import annotations

import socket

import trio

from p2pstack.compose import open_node
from p2pstack.host.admission import AdmissionLimits
from p2pstack.host.limits import ConnectionLimits, Watermarks
from p2pstack.host.node import NodeConfig
from p2pstack.protocols.ping import ping, ping_peer
from tests.helpers import wait_until

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


async def test_silent_flood_from_one_address_cannot_lock_out_another() -> None:
    config = NodeConfig(
        limits=ConnectionLimits(max_pending_inbound=8),
        admission=AdmissionLimits(pending_per_ip=None, pending_per_subnet=None),
    )
    async with (
        open_node(listen=[LOOPBACK], protocols=[ping()], config=config) as server,
        open_node(protocols=[ping()]) as client,
    ):
        port = int(server.addrs[0].components()[1].value or 0)
        silent: list[trio.socket.SocketType] = []
        try:
            for _ in range(12):  # more than the budget, from another loopback /24
                sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                silent.append(sock)
                await sock.bind(("127.9.0.1", 0))
                await sock.connect(("127.0.0.1", port))
            await wait_until(lambda: server.admission.pending == 8)
            for _ in range(3):
                await client.hang_up(server.peer_id)
                assert len(await ping_peer(client, server.addrs[0], count=1)) == 1
            assert server.admission.evictions == 1  # later pings found a free slot
            assert server.resources.refusals["admission", "pending.inbound"] == 4
        finally:
            for sock in silent:
                sock.close()


async def test_trimming_closes_idle_connections_above_the_high_water_mark() -> None:
    config = NodeConfig(watermarks=Watermarks(low_water=1, high_water=2, grace=0.3))
    async with open_node(listen=[LOOPBACK], protocols=[ping()], config=config) as server:
        clients = []
        async with trio.open_nursery() as nursery:
            for _ in range(3):
                cm = open_node(protocols=[ping()])
                clients.append(cm)
            nodes = [await cm.__aenter__() for cm in clients]
            try:
                server.protect(nodes[0].peer_id, "test")
                for node in nodes[:2]:
                    await ping_peer(node, server.addrs[0], count=1)
                await trio.sleep(0.4)  # both are past the grace period now
                await ping_peer(nodes[2], server.addrs[0], count=1)  # the third: trim
                await wait_until(lambda: len(server.connections) == 2)
                # the protected one and the one in its grace period stay
                remaining = {c.peer_id for c in server.connections}
                assert remaining == {nodes[0].peer_id, nodes[2].peer_id}
                assert server.connections_trimmed == 1
            finally:
                for cm in reversed(clients):
                    await cm.__aexit__(None, None, None)
            nursery.cancel_scope.cancel()
