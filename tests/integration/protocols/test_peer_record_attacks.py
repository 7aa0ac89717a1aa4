"""Hostile signed peer records sent to a node by identify (answer) and identify push: each is
a typed refusal (counted, logged), costs bounded work, leaves the peer's addresses unverified,
and the node keeps serving an honest peer."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.host.events import Event
from p2pstack.host.netstream import NetStream
from p2pstack.host.node import Node
from p2pstack.identity import Identity
from p2pstack.identity.envelope import seal
from p2pstack.identity.pb import envelope_pb2, peer_record_pb2
from p2pstack.identity.record import (
    PEER_RECORD_DOMAIN,
    PEER_RECORD_PAYLOAD_TYPE,
    PeerRecord,
    seal_peer_record,
)
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL, identify
from p2pstack.protocols.identify.pb.identify_pb2 import Identify
from p2pstack.protocols.identify.service import IdentifyService
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.transports.tcp import tcp
from p2pstack.varint import length_prefixed
from tests.helpers.nodes import tcp_node

MALLORY_KEY = Identity.from_ed25519_seed(b"m" * 32)
OTHER = Identity.from_ed25519_seed(b"o" * 32)
ADDR = Multiaddr("/ip4/198.51.100.66/tcp/4001")
FLOOD = 200


def _tampered(identity: Identity) -> bytes:
    message = envelope_pb2.Envelope()
    message.ParseFromString(seal_peer_record(identity, [ADDR], 10).data)
    message.signature = bytes([message.signature[0] ^ 0x80]) + message.signature[1:]
    return message.SerializeToString()


def _foreign(identity: Identity) -> bytes:
    """A record naming ``identity`` but signed by another key."""
    payload = PeerRecord(identity.peer_id, 10, (ADDR,)).to_bytes()
    return seal(MALLORY_KEY, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, payload).to_bytes()


def _relayed(identity: Identity) -> bytes:
    """Another peer's genuine record, passed on by ``identity``."""
    del identity
    return seal_peer_record(OTHER, [ADDR], 10).data


def _addresses(identity: Identity, count: int) -> bytes:
    record = peer_record_pb2.PeerRecord(peer_id=identity.peer_id.multihash, seq=10)
    for i in range(count):
        record.addresses.add(multiaddr=Multiaddr(f"/ip4/10.{i // 256}.{i % 256}.1").to_bytes())
    payload = record.SerializeToString()
    return seal(identity, PEER_RECORD_DOMAIN, PEER_RECORD_PAYLOAD_TYPE, payload).to_bytes()


ATTACKS: dict[str, Callable[[Identity], bytes]] = {
    "tampered-signature": _tampered,
    "signed-by-another-key": _foreign,
    "another-peer-s-record": _relayed,
    "65-addresses": lambda identity: _addresses(identity, 65),
    "oversized-800-addresses": lambda identity: _addresses(identity, 800),  # 7.3 KB
    "garbage": lambda identity: b"\x0a\xff\xff\xff\xff\x0f",
}


def _identify_message(identity: Identity, record: bytes) -> bytes:
    return Identify(
        publicKey=identity.public_key.to_protobuf(),
        listenAddrs=[ADDR.to_bytes()],
        protocols=[IDENTIFY_PUSH_PROTOCOL],
        signedPeerRecord=record,
    ).SerializeToString()


async def _push(attacker: Node, victim: Node, message: bytes) -> None:
    stream = await attacker.new_stream(victim.addrs[0], IDENTIFY_PUSH_PROTOCOL)
    try:
        await stream.send_all(length_prefixed(message))
        await stream.send_eof()
    finally:
        await stream.aclose()


async def _until(events: trio.MemoryReceiveChannel[Event], done: Callable[[], bool]) -> None:
    """Wait (for events) until ``done()``."""
    with trio.fail_after(20):
        while not done():
            await events.receive()


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_hostile_record_is_refused_and_node_keeps_serving(attack: str) -> None:
    victim_identify = identify()
    async with (
        tcp_node([ping(), victim_identify]) as victim,
        open_node(protocols=[], transports=[tcp()]) as attacker,
        tcp_node([ping()], listen=False) as honest,
    ):
        message = _identify_message(attacker.identity, ATTACKS[attack](attacker.identity))
        assert len(message) <= 8192  # within what identify reads: the record is the problem

        async def answer(stream: NetStream) -> None:
            await stream.send_all(length_prefixed(message))
            await stream.send_eof()

        attacker.set_stream_handler(IDENTIFY_PROTOCOL, answer)
        started = time.perf_counter()
        counts = victim_identify.records.counts
        with victim.events.subscribe(buffer=16 * FLOOD) as events:
            for _ in range(FLOOD):
                await _push(attacker, victim, message)
            await _until(events, lambda: counts["rejected"] >= FLOOD + 1)  # + its own identify
        elapsed = time.perf_counter() - started
        _assert_refused(victim, victim_identify, attacker, FLOOD + 1)
        assert elapsed < 10, f"{FLOOD + 1} refusals took {elapsed:.1f} s"
        assert len(await ping_peer(honest, victim.addrs[0], count=2)) == 2


def _assert_refused(victim: Node, service: IdentifyService, attacker: Node, count: int) -> None:
    assert service.records.counts["rejected"] == count
    assert service.records.counts["certified"] == 0
    assert victim.peerstore.signed_record(attacker.peer_id) is None
    assert victim.peerstore.certified_addrs(attacker.peer_id) == []
    assert victim.peerstore.certified_addrs(OTHER.peer_id) == []
    assert victim.peerstore.addrs(attacker.peer_id) == [ADDR]  # unverified only


async def test_replayed_older_record_is_ignored() -> None:
    victim_identify = identify()
    async with (
        tcp_node([ping(), victim_identify]) as victim,
        open_node(protocols=[], transports=[tcp()]) as attacker,
    ):
        new = seal_peer_record(attacker.identity, [ADDR], 20).data
        old = seal_peer_record(attacker.identity, [Multiaddr("/ip4/192.0.2.9/tcp/1")], 19).data
        counts = victim_identify.records.counts
        with victim.events.subscribe() as events:
            for record in (new, old, old):
                await _push(attacker, victim, _identify_message(attacker.identity, record))
            await _until(events, lambda: counts["certified"] + counts["stale"] == 3)
        assert victim_identify.records.counts["stale"] == 2
        assert victim.peerstore.certified_addrs(attacker.peer_id) == [ADDR]
        stored = victim.peerstore.signed_record(attacker.peer_id)
        assert stored is not None
        assert stored.seq == 20
