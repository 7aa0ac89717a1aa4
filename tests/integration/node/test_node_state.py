"""Node.export_state/import_state: bans, addresses, dialing relays and services' state (a
request-response firewall's rules) in one JSON document."""

from __future__ import annotations

import json
from typing import Any

import pytest

from p2pstack.compose import open_node
from p2pstack.errors import InvalidConfigError
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.request_response import (
    AllowAll,
    Ask,
    Firewall,
    JsonCodec,
    RejectAll,
    Restricted,
    Rules,
    request_response,
)

PROTOCOL = "/state-test/1"
BANNED = Identity.from_ed25519_seed(b"b" * 32).peer_id
FRIEND = Identity.from_ed25519_seed(b"f" * 32).peer_id
RELAY = Multiaddr(f"/ip4/10.0.0.9/tcp/4001/p2p/{Identity.from_ed25519_seed(b'r' * 32).peer_id}")
HOME = Multiaddr("/ip4/10.0.0.1/tcp/4001")


def _small(request: Any) -> bool:
    return len(request) < 4


async def test_state_round_trips_through_json() -> None:
    small = Restricted(_small, name="small")
    firewall = Firewall(default=Rules(inbound=Ask(), outbound=AllowAll()))
    firewall.set_peer_rule(FRIEND, small)
    firewall.set_peer_rule(BANNED, RejectAll())
    rr = request_response(PROTOCOL, JsonCodec(), firewall=firewall, serve=False)
    async with open_node(protocols=[rr]) as node:
        await node.ban_peer(BANNED)
        node.peerstore.add_addrs(FRIEND, [HOME])
        node.peerstore.add_addrs(BANNED, [Multiaddr("/ip4/10.0.0.2/tcp/1")], ttl=60)
        node.add_dialing_relay(RELAY)
        node.add_dialing_relay(RELAY, peer=FRIEND)
        node.relay_fallback = True
        data = json.loads(json.dumps(node.export_state()))
    assert data["bans"] == [str(BANNED)]
    assert data["addrs"] == {str(FRIEND): [str(HOME)]}
    assert data["learned_addrs"] == {str(BANNED): ["/ip4/10.0.0.2/tcp/1"]}
    assert data["services"][f"request-response:{PROTOCOL}"]["peers"][str(FRIEND)] == {
        "inbound": "restricted:small",
        "outbound": "restricted:small",
    }
    # a new node whose application re-creates the named rule gets everything back
    fresh = Firewall(default=Rules(inbound=small))
    rr2 = request_response(PROTOCOL, JsonCodec(), firewall=fresh, serve=False)
    async with open_node(protocols=[rr2]) as node:
        node.import_state(data)
        assert node.banned_peers == frozenset({BANNED})
        assert node.peerstore.addrs(FRIEND) == [HOME]
        assert node.dialing_relays == (RELAY,)
        assert node.peer_relays == {FRIEND: (RELAY,)}
        assert node.relay_fallback
        assert fresh.peer_rules(FRIEND) == Rules.both(small)
        assert fresh.default == Rules(inbound=Ask(), outbound=AllowAll())
        assert node.export_state() == data


async def test_malformed_state_changes_nothing() -> None:
    bad: dict[str, Any]
    async with open_node() as node:
        for bad in (
            {"bans": ["not-a-peer"]},
            {"relays": [str(HOME)]},  # no /p2p/<relay>
            {"addrs": []},
            {"relay_fallback": "yes"},
            {"version": 99},
        ):
            with pytest.raises(InvalidConfigError):
                node.import_state(bad)
        assert node.banned_peers == frozenset()
        assert node.dialing_relays == ()
