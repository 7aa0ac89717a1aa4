"""The QUIC listener's stateless answers: Retry (address validation) keeps Initials from
forged addresses out of the handshake slots, a real client that answers the Retry connects,
forged, misdirected and expired tokens are refused, and another version gets a Version
Negotiation packet (never a slot)."""

from __future__ import annotations

import socket

import trio
import trio.testing
from aioquic.buffer import Buffer  # type: ignore[attr-defined]  # re-exported by aioquic
from aioquic.quic.packet import QuicProtocolVersion, pull_quic_header

from p2pstack.compose import open_node
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.transports.quic import QuicConfig, quic
from p2pstack.transports.quic.core import Libp2pQuicConnection
from p2pstack.transports.quic.endpoint import QUIC_V1, QuicListener
from p2pstack.transports.quic.packets import parse_long_header
from p2pstack.transports.quic.retry import RETRY_TOKEN_LIFETIME
from tests.helpers import wait_until
from tests.integration.quic.recording import RecordingQuic

QUIC_LISTEN = "/ip4/127.0.0.1/udp/0/quic-v1"
CLIENT = quic(identity=Identity.generate())


def _client(versions: list[int] | None = None) -> Libp2pQuicConnection:
    configuration = CLIENT.client_configuration()
    if versions is not None:
        configuration.supported_versions = versions
    return Libp2pQuicConnection(
        configuration=configuration, stream_window=64 * 1024, connection_window=1 << 20
    )


def _first_flight(client: Libp2pQuicConnection, target: tuple[str, int]) -> list[bytes]:
    client.connect(target, now=trio.current_time())
    return [data for data, _ in client.datagrams_to_send(now=trio.current_time())]


async def _listen(config: QuicConfig) -> tuple[QuicListener, tuple[str, int]]:
    listener = await quic(config, identity=Identity.generate()).listen(Multiaddr(QUIC_LISTEN))
    assert isinstance(listener, QuicListener)
    target = listener.listen_addrs[0].host_port("udp")
    assert target is not None
    return listener, target


def _flood(listener: QuicListener, target: tuple[str, int], count: int) -> int:
    """Real clients' first Initials from ``count`` forged addresses; the connections opened."""
    opened = 0
    for index in range(count):
        for datagram in _first_flight(_client(), target):
            opened += listener.datagram_received(datagram, ("127.0.0.1", 20000 + index)) is not None
    return opened


async def _udp() -> trio.socket.SocketType:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await sock.bind(("127.0.0.1", 0))
    return sock


async def _answer_retry(
    listener: QuicListener, target: tuple[str, int], sock: trio.socket.SocketType
) -> list[bytes]:
    """A real client's first flight fed to ``listener`` from ``sock``'s address; the Retry it
    gets there is fed back to the client; the client's next flight (with the token)."""
    client = _client()
    source = sock.getsockname()
    for datagram in _first_flight(client, target):
        assert listener.datagram_received(datagram, source) is None
    with trio.fail_after(5):
        retry, _ = await sock.recvfrom(65536)
    client.receive_datagram(retry, target, now=trio.current_time())
    flight = [data for data, _ in client.datagrams_to_send(now=trio.current_time())]
    assert pull_quic_header(Buffer(data=flight[0]), host_cid_length=8).token
    return flight


async def test_forged_initials_hold_no_handshake_slot_when_retry_is_always() -> None:
    never, target = await _listen(QuicConfig(max_pending_handshakes=8, retry="never"))
    try:
        assert _flood(never, target, 40) == 8
        assert never.num_connections == 8  # before: the flood holds every slot
    finally:
        await never.aclose()
    always, target = await _listen(QuicConfig(max_pending_handshakes=8, retry="always"))
    try:
        assert _flood(always, target, 40) == 0
        assert always.num_connections == 0
        assert (always.retries_sent, always.dropped) == (40, 0)
    finally:
        await always.aclose()


async def test_under_load_forged_initials_hold_at_most_the_threshold() -> None:
    config = QuicConfig(max_pending_handshakes=8, retry_threshold=3)
    listener, target = await _listen(config)
    try:
        assert _flood(listener, target, 40) == 3
        assert listener.num_connections == 3
        assert listener.retries_sent == 37
        with await _udp() as sock:  # a client that answers the Retry gets a free slot
            flight = await _answer_retry(listener, target, sock)
            opened = [listener.datagram_received(d, sock.getsockname()) for d in flight]
        assert sum(raw is not None for raw in opened) == 1
        assert listener.num_connections == 4
    finally:
        await listener.aclose()


async def test_the_default_sends_no_retry_to_a_lone_client() -> None:
    listener, target = await _listen(QuicConfig())
    try:
        opened = [
            listener.datagram_received(d, ("127.0.0.1", 20000))
            for d in _first_flight(_client(), target)
        ]
        assert sum(raw is not None for raw in opened) == 1
        assert listener.retries_sent == 0
    finally:
        await listener.aclose()


async def test_a_real_client_connects_through_retry_after_a_flood() -> None:
    recording = RecordingQuic(quic(QuicConfig(retry="always", max_pending_handshakes=4)))
    async with (
        open_node(listen=[QUIC_LISTEN], transports=[recording], protocols=[ping()]) as server,
        open_node(transports=[quic()], protocols=[ping()]) as client,
    ):
        (listener,) = recording.listeners
        target = server.listen_addrs[0].host_port("udp")
        assert target is not None
        with await _udp() as flooder:  # never answers the Retries it gets
            for _ in range(40):
                for datagram in _first_flight(_client(), target):
                    await flooder.sendto(datagram, target)
            await wait_until(lambda: listener.retries_sent == 40)
        assert listener.num_connections == 0
        conn = await client.dial(server.addrs[0])
        assert len(await ping_peer(client, conn, count=2)) == 2
        assert listener.retries_sent == 41
        assert listener.num_connections == 1
        assert listener.tokens_refused == 0


async def test_forged_and_misdirected_tokens_are_refused() -> None:
    listener, target = await _listen(QuicConfig(retry="always"))
    try:
        with await _udp() as sock:
            source = sock.getsockname()
            flight = await _answer_retry(listener, target, sock)
            token = pull_quic_header(Buffer(data=flight[0]), host_cid_length=8).token
            at = flight[0].index(token)
            forged = bytearray(flight[0])
            forged[at + len(token) // 2] ^= 0x40
            assert listener.datagram_received(bytes(forged), source) is None
            assert listener.datagram_received(flight[0], ("127.0.0.1", source[1] + 1)) is None
            assert listener.datagram_received(flight[0], ("127.0.0.2", source[1])) is None
            assert (listener.tokens_refused, listener.num_connections) == (3, 0)
            assert listener.datagram_received(flight[0], source) is not None
            # the same datagram again reaches the connection it opened, not a new one
            assert listener.datagram_received(flight[0], source) is None
            assert listener.num_connections == 1
    finally:
        await listener.aclose()


async def test_an_expired_token_is_refused(mock_clock: trio.testing.MockClock) -> None:
    listener, target = await _listen(QuicConfig(retry="always"))
    try:
        with await _udp() as sock:
            flight = await _answer_retry(listener, target, sock)
            mock_clock.jump(RETRY_TOKEN_LIFETIME + 0.5)
            assert listener.datagram_received(flight[0], sock.getsockname()) is None
        assert (listener.tokens_refused, listener.num_connections) == (1, 0)
    finally:
        await listener.aclose()


async def test_another_version_gets_version_negotiation_and_no_slot() -> None:
    listener, _ = await _listen(QuicConfig(retry="never"))
    try:
        with await _udp() as sock:
            source = sock.getsockname()
            dcid, scid = bytes(range(30)), b"\x09" * 4  # a 30-byte id: not v1's limit
            packet = b"\xc0" + bytes.fromhex("1a2a3a4a") + b"\x1e" + dcid + b"\x04" + scid
            assert listener.datagram_received(packet.ljust(1200, b"\x00"), source) is None
            with trio.fail_after(5):
                reply, _ = await sock.recvfrom(65536)
            # RFC 9000 17.2.1: long header bit set, version 0, the client's connection ids
            # swapped, then our versions (32 bits each)
            assert reply[0] & 0x80
            assert reply[1:5] == bytes(4)
            assert reply[5:] == b"\x04" + scid + b"\x1e" + dcid + QUIC_V1.to_bytes(4, "big")
            # too small to open a connection, or itself a Version Negotiation: no answer
            assert listener.datagram_received(packet.ljust(1199, b"\x00"), source) is None
            assert listener.datagram_received(reply.ljust(1200, b"\x00"), source) is None
            assert (listener.version_negotiations_sent, listener.dropped) == (1, 2)
            assert listener.num_connections == 0
    finally:
        await listener.aclose()


async def test_a_client_starting_with_quic_v2_switches_to_v1() -> None:
    listener, target = await _listen(QuicConfig(retry="never"))
    try:
        with await _udp() as sock:
            source = sock.getsockname()
            client = _client([QuicProtocolVersion.VERSION_2, QuicProtocolVersion.VERSION_1])
            flight = _first_flight(client, target)
            assert parse_long_header(flight[0]).version == QuicProtocolVersion.VERSION_2
            for datagram in flight:
                assert listener.datagram_received(datagram, source) is None
            with trio.fail_after(5):
                reply, _ = await sock.recvfrom(65536)
            client.receive_datagram(reply, target, now=trio.current_time())
            flight = [d for d, _ in client.datagrams_to_send(now=trio.current_time())]
            assert parse_long_header(flight[0]).version == QUIC_V1
            opened = [listener.datagram_received(d, source) for d in flight]
            assert sum(raw is not None for raw in opened) == 1
    finally:
        await listener.aclose()


async def test_an_initial_to_a_short_connection_id_opens_nothing() -> None:
    listener, target = await _listen(QuicConfig(retry="never"))
    try:
        configuration = CLIENT.client_configuration()
        configuration.connection_id_length = 4  # its first Initial goes to a 4-byte id
        client = Libp2pQuicConnection(
            configuration=configuration, stream_window=64 * 1024, connection_window=1 << 20
        )
        flight = _first_flight(client, target)
        assert len(pull_quic_header(Buffer(data=flight[0]), host_cid_length=8).destination_cid) == 4
        assert all(listener.datagram_received(d, ("127.0.0.1", 20000)) is None for d in flight)
        assert (listener.num_connections, listener.dropped) == (0, len(flight))
        assert _flood(listener, target, 1) == 1  # the usual 8 bytes still open one
    finally:
        await listener.aclose()
