"""Hostile datagrams against a QUIC listener: garbage, truncated, huge and fake Initial
packets, a flood of valid Initials, and the 3x amplification limit before the client's
address is validated. The node keeps serving an honest peer throughout."""

from __future__ import annotations

import os
import socket

import trio

from p2pstack.compose import open_node
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.transports.quic import QuicConfig, quic
from p2pstack.transports.quic.core import Libp2pQuicConnection
from p2pstack.transports.quic.endpoint import QuicListener
from p2pstack.transports.quic.transport import QuicTransport

QUIC_LISTEN = "/ip4/127.0.0.1/udp/0/quic-v1"


def _client_initial(transport: QuicTransport, target: tuple[str, int]) -> list[bytes]:
    """The first flight of a real client (its Initial datagrams), never continued."""
    client = Libp2pQuicConnection(
        configuration=transport.client_configuration(),
        stream_window=64 * 1024,
        connection_window=1 << 20,
    )
    client.connect(target, now=0.0)
    return [data for data, _ in client.datagrams_to_send(now=0.0)]


def _fake_initial() -> bytes:
    """A long-header v1 Initial of 1200 bytes whose protection is garbage."""
    dcid = os.urandom(8)
    return (b"\xc0" + (1).to_bytes(4, "big") + b"\x08" + dcid + b"\x00\x00\x44\xd0").ljust(
        1200, b"\x17"
    )


async def test_hostile_datagrams_leave_the_node_serving() -> None:
    async with (
        open_node(listen=[QUIC_LISTEN], transports=[quic()], protocols=[ping()]) as server,
        open_node(transports=[quic()], protocols=[ping()]) as client,
    ):
        host, port = server.listen_addrs[0].host_port("udp") or ("", 0)
        attacker = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with attacker:
            hostile = [os.urandom(n) for n in (1, 5, 20, 100, 1199, 1500)]
            hostile += [b"\xc0", b"\xc0\x00\x00\x00\x01\x14", b"\x40" + bytes(30)]
            hostile += [bytes(60000), os.urandom(60000)]
            hostile += [_fake_initial() for _ in range(300)]
            for datagram in hostile:
                await attacker.sendto(datagram, (host, port))
            conn = await client.dial(server.addrs[0])
            assert len(await ping_peer(client, conn, count=2)) == 2
        assert [c.peer_id for c in server.connections] == [client.peer_id]


async def test_a_flood_of_valid_initials_is_capped() -> None:
    config = QuicConfig(max_pending_handshakes=8, retry="never")
    server = quic(config, identity=Identity.generate())
    flooder = quic(identity=Identity.generate())
    listener = await server.listen(Multiaddr(QUIC_LISTEN))
    assert isinstance(listener, QuicListener)
    try:
        target = listener.listen_addrs[0].host_port("udp")
        assert target is not None
        opened = 0
        for index in range(40):
            for datagram in _client_initial(flooder, target):
                raw = listener.datagram_received(datagram, ("127.0.0.1", 20000 + index))
                opened += raw is not None
        assert opened == 8
        assert listener.num_connections == 8
        assert listener.dropped >= 32
    finally:
        await listener.aclose()


async def test_the_listener_sends_at_most_three_times_what_an_unvalidated_client_sent() -> None:
    async with open_node(listen=[QUIC_LISTEN], transports=[quic()], protocols=[ping()]) as server:
        target = server.listen_addrs[0].host_port("udp")
        assert target is not None
        spoofed = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with spoofed:
            await spoofed.bind(("127.0.0.1", 0))
            flight = _client_initial(quic(identity=Identity.generate()), target)
            for datagram in flight:
                await spoofed.sendto(datagram, target)
            sent = sum(len(d) for d in flight)
            received = 0
            with trio.move_on_after(2.5):  # the first flight and its PTO retransmissions
                while True:
                    data, _ = await spoofed.recvfrom(65536)
                    received += len(data)
        assert received > 0
        assert received <= 3 * sent
