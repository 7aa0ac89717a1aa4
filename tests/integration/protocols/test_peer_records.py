"""Signed peer records between p2pstack nodes over TCP: identify certifies, push re-seals,
export_state/import_state keep the records (verified again on import)."""

from __future__ import annotations

import json

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.errors import InvalidConfigError
from p2pstack.host.events import PeerIdentified
from p2pstack.host.netstream import NetStream
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import IdentifyConfig, identify
from p2pstack.protocols.identify.codec import encode_identify
from p2pstack.protocols.identify.service import IDENTIFY_PROTOCOL
from p2pstack.protocols.ping import ping
from p2pstack.varint import length_prefixed
from tests.helpers.nodes import tcp_node

EXTRA = Multiaddr("/ip4/203.0.113.5/tcp/4001")


async def test_identify_certifies_and_push_reseals() -> None:
    server_identify, client_identify = identify(), identify()
    async with (
        tcp_node([ping(), server_identify]) as server,
        tcp_node([ping(), client_identify]) as client,
    ):
        conn = await client.dial(server.addrs[0])
        info = await client_identify.wait_identified(conn)
        assert info is not None
        first = client.peerstore.signed_record(server.peer_id)
        assert first is not None
        assert client.peerstore.certified_addrs(server.peer_id) == server.listen_addrs
        # a change right after connecting is pushed once the server has identified the
        # client (not waited for here: the push must not be skipped meanwhile)
        with client.events.subscribe() as events:
            server.set_announced_addrs([EXTRA])
            with trio.fail_after(5):
                async for event in events:
                    if isinstance(event, PeerIdentified) and EXTRA in event.listen_addrs:
                        break
        second = client.peerstore.signed_record(server.peer_id)
        assert second is not None
        assert second.seq > first.seq
        assert client.peerstore.certified_addrs(server.peer_id) == [*server.listen_addrs, EXTRA]
        assert client_identify.records.counts["certified"] == 2
        assert client_identify.records.counts["rejected"] == 0
        # and the other way round
        assert server.peerstore.certified_addrs(client.peer_id) == client.listen_addrs


async def test_a_change_before_the_peer_is_identified_is_still_pushed() -> None:
    """The server learns of a change while its identify of the client is still running:
    the push waits for that identify instead of being skipped."""
    server_identify, client_identify = identify(), identify()
    release = trio.Event()
    async with (
        tcp_node([ping(), server_identify]) as server,
        tcp_node([ping(), client_identify]) as client,
    ):

        async def held_identify(stream: NetStream) -> None:
            await release.wait()  # the server's identify of the client waits here
            message = encode_identify(
                public_key=client.identity.public_key.to_protobuf(),
                listen_addrs=client.listen_addrs,
                protocols=client.protocols,
                observed_addr=None,
                agent_version="held",
                protocol_version="ipfs/0.1.0",
            )
            await stream.send_all(length_prefixed(message))
            await stream.send_eof()

        client.set_stream_handler(IDENTIFY_PROTOCOL, held_identify)
        conn = await client.dial(server.addrs[0])
        assert await client_identify.wait_identified(conn) is not None
        with client.events.subscribe() as events:
            server.set_announced_addrs([EXTRA])
            await trio.testing.wait_all_tasks_blocked()
            release.set()
            with trio.fail_after(5):
                async for event in events:
                    if isinstance(event, PeerIdentified) and EXTRA in event.listen_addrs:
                        break
        assert client.peerstore.certified_addrs(server.peer_id) == [*server.listen_addrs, EXTRA]


async def test_records_can_be_switched_off() -> None:
    client_identify = identify()
    async with (
        tcp_node([identify(IdentifyConfig(signed_peer_record=False))]) as server,
        tcp_node([client_identify], listen=False) as client,
    ):
        conn = await client.dial(server.addrs[0])
        info = await client_identify.wait_identified(conn)
        assert info is not None
        assert info.signed_peer_record is None
        assert client_identify.records.counts["absent"] == 1
        assert client.peerstore.certified_addrs(server.peer_id) == []
        assert client.peerstore.addrs(server.peer_id) == server.listen_addrs


async def test_state_keeps_records_and_verifies_them_again() -> None:
    client_identify = identify()
    async with tcp_node() as server, tcp_node([client_identify], listen=False) as client:
        conn = await client.dial(server.addrs[0])
        assert await client_identify.wait_identified(conn) is not None
        state = json.loads(json.dumps(client.export_state()))
        server_addrs = list(server.listen_addrs)
    envelope = state["records"][str(server.peer_id)]
    async with open_node(protocols=[]) as fresh:
        fresh.import_state(state)
        assert fresh.peerstore.certified_addrs(server.peer_id) == server_addrs
        record = fresh.peerstore.signed_record(server.peer_id)
        assert record is not None
        assert record.data.hex() == envelope
    flipped = f"{int(envelope[-2:], 16) ^ 1:02x}"  # the signature's last byte
    tampered = dict(state, records={str(server.peer_id): envelope[:-2] + flipped})
    async with open_node(protocols=[]) as fresh:
        with pytest.raises(InvalidConfigError, match="malformed node state"):
            fresh.import_state(tampered)
        assert fresh.peerstore.certified_addrs(server.peer_id) == []
        assert fresh.peerstore.addrs(server.peer_id) == []
