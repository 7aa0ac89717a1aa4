"""Network state the application keeps: addresses, rules, events; codecs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import trio

from p2pstack.errors import MultiaddrError, PeerIdError
from p2pstack.host.events import ConnectionClosed, ConnectionOpened, Event
from p2pstack.host.peerstore import PeerStore
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.request_response import (
    CodecError,
    DataclassCodec,
    Firewall,
    InboundFailure,
    JsonCodec,
    NotPermitted,
    RejectAll,
    Rules,
)
from tests.helpers.request_response import client_rr, memory_pair, server_rr

PEER = Identity.from_ed25519_seed(b"p" * 32).peer_id
RELAYED = f"/ip4/10.0.0.1/tcp/4001/p2p/{PEER}/p2p-circuit"


def test_peer_addresses_export_and_import() -> None:
    store = PeerStore()
    store.add_addrs(PEER, [Multiaddr("/ip4/127.0.0.1/tcp/1"), Multiaddr(RELAYED)])
    data = json.loads(json.dumps(store.export_addrs()))
    other = PeerStore()
    other.import_addrs(data)
    assert set(other.addrs(PEER)) == set(store.addrs(PEER))
    assert PeerStore().export_addrs() == {}


@pytest.mark.parametrize(
    ("data", "error"),
    [({"nope": ["/ip4/1.2.3.4/tcp/1"]}, PeerIdError), ({str(PEER): ["/bogus"]}, MultiaddrError)],
)
def test_import_of_malformed_addresses_adds_nothing(
    data: dict[str, list[str]], error: type[Exception]
) -> None:
    store = PeerStore()
    with pytest.raises(error):
        store.import_addrs({str(PEER): ["/ip4/1.2.3.4/tcp/1"], **data})
    assert store.peers() == []


async def test_event_stream_has_connections_and_inbound_failures() -> None:
    server = server_rr(firewall=Firewall(default=Rules.both(RejectAll())))
    async with memory_pair([server], [client := client_rr()]) as (a, b):
        with a.events.subscribe() as events:
            with pytest.raises(NotPermitted):
                await client.request(a.addrs[0], 1)
            await b.hang_up(a.peer_id)
            seen: list[Event] = []
            with trio.fail_after(5):
                async for event in events:
                    seen.append(event)
                    if isinstance(event, ConnectionClosed):
                        break
    kinds = [type(e) for e in seen if not type(e).__name__.startswith("Stream")]
    assert kinds == [ConnectionOpened, InboundFailure, ConnectionClosed]
    failure = seen[[type(e) for e in seen].index(InboundFailure)]
    assert isinstance(failure, InboundFailure)
    assert failure.peer_id == b.peer_id
    closed = seen[-1]
    assert isinstance(closed, ConnectionClosed)
    assert closed.cause is not None  # the peer hung up: the cause says so


@dataclass
class Point:
    x: int
    y: int


def test_codecs() -> None:
    codec = DataclassCodec(Point, Point)
    assert codec.decode_request(codec.encode_request(Point(1, 2))) == Point(1, 2)
    for bad in (b"[1]", b'{"x": 1}', b'{"x": 1, "y": 2, "z": 3}', b"\xff"):
        with pytest.raises(CodecError):
            codec.decode_response(bad)
    with pytest.raises(TypeError):
        DataclassCodec(int, Point)
    with pytest.raises(CodecError) as info:
        JsonCodec().encode_request({1, 2})
    assert not info.value.remote
    assert JsonCodec().decode_response(b'{"a": [1]}') == {"a": [1]}
