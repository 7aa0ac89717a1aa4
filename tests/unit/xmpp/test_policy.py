"""Directory, gater and address choice without a server: every rejection reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest

from p2pstack.host.connection import Connection
from p2pstack.host.peerstore import PeerStore
from p2pstack.identity import Identity, PeerId, Secp256k1PrivateKey
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.xmpp.dial import (
    ContactHasNoP2PInfo,
    ContactNotAvailable,
    candidate_addrs,
    pick_contact,
)
from p2pstack.protocols.discovery.xmpp.directory import Directory
from p2pstack.protocols.discovery.xmpp.gater import IpRule, Reason, XmppGater, authorise, prefilter
from p2pstack.protocols.discovery.xmpp.jid import Jid
from p2pstack.protocols.discovery.xmpp.presence import P2PInfo, PresencePayload
from p2pstack.role import Role

ME = Jid.parse("me@x.org/node")
BOB = Jid.parse("bob@x.org/node")
OWN = P2PInfo(ext_ip="1.2.3.4", ext_port=4001, loc_ip="10.0.0.2", loc_port=4001)
BOB_LAN = P2PInfo(ext_ip="1.2.3.4", ext_port=4002, loc_ip="10.0.0.3", loc_port=4001)
BOB_WAN = P2PInfo(ext_ip="5.6.7.8", ext_port=4100, loc_ip="192.168.1.5", loc_port=4001)


def make_dir(
    sub: str | None = "both", p2p: P2PInfo | None = BOB_WAN, key: Identity | None = None
) -> tuple[Directory, Identity]:
    bob = key or Identity.generate()
    d = Directory()
    d.session_started(ME)
    d.set_own_p2p(OWN)
    if sub is not None:
        d.set_roster({"bob@x.org": sub})
    d.available(BOB, PresencePayload(p2p=p2p, ed25519=bob.public_key.raw_bytes()))
    return d, bob


def reason(d: Directory, ident: Identity, ip: str, rule: IpRule = IpRule.STRICT) -> Reason | None:
    return authorise(d.snapshot, ident.peer_id, ip, rule).reason


def test_allowed_external_and_local() -> None:
    d, bob = make_dir()
    assert authorise(d.snapshot, bob.peer_id, "5.6.7.8", IpRule.STRICT).allowed
    d2, bob2 = make_dir(p2p=BOB_LAN)
    decision = authorise(d2.snapshot, bob2.peer_id, "10.0.0.3", IpRule.STRICT)
    assert decision.allowed
    assert decision.jid == BOB
    # IPv4-mapped IPv6 remote addresses are normalised
    assert authorise(d2.snapshot, bob2.peer_id, "::ffff:10.0.0.3", IpRule.STRICT).allowed


def test_every_rejection_reason() -> None:
    d, bob = make_dir(sub=None)
    assert reason(d, bob, "5.6.7.8") == Reason.NOT_IN_ROSTER
    d, bob = make_dir(sub="from")
    assert reason(d, bob, "5.6.7.8") == Reason.NO_SUBSCRIPTION
    d, bob = make_dir(sub="none")
    assert reason(d, bob, "5.6.7.8") == Reason.NO_SUBSCRIPTION
    d, bob = make_dir(p2p=None)
    assert reason(d, bob, "5.6.7.8") == Reason.NO_P2P_INFO
    d, bob = make_dir()
    assert reason(d, Identity.generate(), "5.6.7.8") == Reason.WRONG_KEY
    assert reason(d, Identity.generate(), "9.9.9.9") == Reason.UNKNOWN_KEY
    assert reason(d, bob, "9.9.9.9") == Reason.WRONG_IP
    assert reason(d, bob, "192.168.1.5") == Reason.WRONG_IP  # different external IP: extIp rule
    assert reason(d, bob, "9.9.9.9", IpRule.WARN) is None
    assert reason(d, bob, "9.9.9.9", IpRule.OFF) is None
    secp = Identity(Secp256k1PrivateKey.generate())
    assert reason(d, secp, "5.6.7.8") == Reason.NOT_ED25519
    d.unavailable(BOB)
    assert reason(d, bob, "5.6.7.8") == Reason.UNAVAILABLE
    d, bob = make_dir()
    d.session_lost()
    assert reason(d, bob, "5.6.7.8") == Reason.STALE
    d.session_started(ME)
    assert reason(d, bob, "5.6.7.8") == Reason.STALE  # still no fresh presence
    d.set_roster({"bob@x.org": "both"})
    d.available(BOB, PresencePayload(p2p=BOB_WAN, ed25519=bob.public_key.raw_bytes()))
    assert reason(d, bob, "5.6.7.8") is None


def test_same_lan_requires_local_ip() -> None:
    d, bob = make_dir(p2p=BOB_LAN)
    assert reason(d, bob, "1.2.3.4") == Reason.WRONG_IP  # hairpin via the router: refused
    assert reason(d, bob, "10.0.0.3") is None


def test_prefilter() -> None:
    d, _ = make_dir()
    snap = d.snapshot
    assert prefilter(snap, "5.6.7.8", IpRule.STRICT).allowed
    assert prefilter(snap, "192.168.1.5", IpRule.STRICT).allowed
    assert prefilter(snap, "9.9.9.9", IpRule.STRICT).reason == Reason.IP_NOT_PUBLISHED
    assert prefilter(snap, "9.9.9.9", IpRule.WARN).allowed
    d.unavailable(BOB)
    assert prefilter(d.snapshot, "5.6.7.8", IpRule.STRICT).reason == Reason.UNAVAILABLE
    d, _ = make_dir(sub="from")
    assert prefilter(d.snapshot, "5.6.7.8", IpRule.STRICT).reason == Reason.IP_NOT_PUBLISHED
    d, _ = make_dir()
    d.session_lost()
    assert prefilter(d.snapshot, "5.6.7.8", IpRule.STRICT).reason == Reason.STALE


def test_gater_logs_and_records(caplog: pytest.LogCaptureFixture) -> None:
    d, bob = make_dir()
    gater = XmppGater(d)
    assert not gater.allow_accept(Multiaddr("/ip4/9.9.9.9/tcp/1"))
    assert gater.allow_accept(Multiaddr("/ip4/5.6.7.8/tcp/1"))
    assert gater.allow_secured(bob.peer_id, Multiaddr("/ip4/5.6.7.8/tcp/1"), Role.RESPONDER)
    other = Identity.generate()
    assert not gater.allow_secured(other.peer_id, Multiaddr("/ip4/5.6.7.8/tcp/1"), Role.RESPONDER)
    assert gater.allow_secured(
        other.peer_id, Multiaddr("/ip4/5.6.7.8/tcp/1"), Role.INITIATOR
    )  # outbound
    reasons = [x.reason for x in gater.decisions]
    assert reasons == [Reason.IP_NOT_PUBLISHED, None, Reason.WRONG_KEY]
    assert "ip-not-published" in caplog.text
    assert "wrong-key" in caplog.text


RELAY = Identity.generate()


def last_reason(gater: XmppGater) -> Reason | None:
    return gater.decisions[-1].reason


RELAYED_FROM = "/ip4/9.9.9.9/tcp/4001/p2p/{relay}/p2p-circuit/p2p/{peer}"


def test_relayed_contact_is_checked_by_key_and_roster_only() -> None:
    d, bob = make_dir()
    gater = XmppGater(d)  # the default strict IP rule
    via = Multiaddr(RELAYED_FROM.format(relay=RELAY.peer_id, peer=bob.peer_id))
    # the relay's IP (9.9.9.9) was published by nobody: a direct connection from it is refused
    assert not gater.allow_accept(Multiaddr("/ip4/9.9.9.9/tcp/4001"))
    assert last_reason(gater) == Reason.IP_NOT_PUBLISHED
    # through the relay, the contact's key and roster decide
    assert gater.allow_relayed_accept(RELAY.peer_id, bob.peer_id)
    assert gater.allow_accept(via)
    assert gater.allow_secured(bob.peer_id, via, Role.RESPONDER)
    last = gater.decisions[-1]
    assert last.allowed
    assert (last.relayed, last.remote_ip, last.jid) == (True, None, BOB)
    # a stranger through the relay: refused before the circuit is accepted, and after Noise
    stranger = Identity.generate()
    assert not gater.allow_relayed_accept(RELAY.peer_id, stranger.peer_id)
    assert gater.decisions[-1].stage == "relayed-accept"
    assert last_reason(gater) == Reason.UNKNOWN_KEY
    other = Multiaddr(RELAYED_FROM.format(relay=RELAY.peer_id, peer=stranger.peer_id))
    assert not gater.allow_secured(stranger.peer_id, other, Role.RESPONDER)
    # the roster still decides for relayed contacts
    d, bob = make_dir(sub="from")
    gater = XmppGater(d)
    assert not gater.allow_relayed_accept(RELAY.peer_id, bob.peer_id)
    assert last_reason(gater) == Reason.NO_SUBSCRIPTION
    via = Multiaddr(RELAYED_FROM.format(relay=RELAY.peer_id, peer=bob.peer_id))
    assert not gater.allow_secured(bob.peer_id, via, Role.RESPONDER)
    assert last_reason(gater) == Reason.NO_SUBSCRIPTION
    # the IP rule still applies to the same contact's direct connections
    d, bob = make_dir()
    assert reason(d, bob, "9.9.9.9") == Reason.WRONG_IP


@dataclass
class StubConnection:
    """What the gater reads of an upgraded connection."""

    peer_id: PeerId
    remote_addr: Multiaddr
    is_closed: bool = False


def test_direct_connection_of_a_relayed_contact_passes_the_ip_rule() -> None:
    """A hole punch (DCUtR) makes a direct connection from the contact's NAT mapping, an IP
    it did not publish: admitted while its relayed connection lives, on its key."""
    d, bob = make_dir()
    gater = XmppGater(d)
    punched = Multiaddr("/ip4/9.9.9.9/tcp/50123")  # bob's NAT mapping, not published
    assert not gater.allow_accept(punched)
    assert not gater.allow_secured(bob.peer_id, punched, Role.RESPONDER)
    assert last_reason(gater) == Reason.WRONG_IP
    via = Multiaddr(RELAYED_FROM.format(relay=RELAY.peer_id, peer=bob.peer_id))
    relayed = StubConnection(bob.peer_id, via)
    assert gater.allow_upgraded(cast("Connection", relayed))
    # a stranger's relayed connection opens nothing
    stranger = Identity.generate()
    other = StubConnection(stranger.peer_id, via)
    assert gater.allow_upgraded(cast("Connection", other))
    assert gater.relayed_peers() == {bob.peer_id}
    # while bob's relayed connection lives: the unpublished IP reaches the key check
    assert gater.allow_accept(punched)
    assert gater.allow_secured(bob.peer_id, punched, Role.RESPONDER)
    last = gater.decisions[-1]
    assert (last.allowed, last.relayed, last.remote_ip) == (True, False, "9.9.9.9")
    assert "hole punch" in last.detail
    # ... but only bob's key: a stranger from there is still refused
    assert not gater.allow_secured(stranger.peer_id, punched, Role.RESPONDER)
    assert last_reason(gater) == Reason.UNKNOWN_KEY
    # the relayed connection ends: the IP rule applies again
    relayed.is_closed = True
    assert gater.relayed_peers() == frozenset()
    assert not gater.allow_accept(punched)
    assert not gater.allow_secured(bob.peer_id, punched, Role.RESPONDER)
    assert last_reason(gater) == Reason.WRONG_IP


def test_directory_feeds_peerstore_and_clears() -> None:
    d, bob = make_dir()
    store = PeerStore()
    d.attach_peerstore(store)
    assert set(store.addrs(bob.peer_id)) == {
        Multiaddr("/ip4/192.168.1.5/tcp/4001"),
        Multiaddr("/ip4/5.6.7.8/tcp/4100"),
    }
    d.unavailable(BOB)
    assert store.addrs(bob.peer_id) == []
    assert d.snapshot.lookup(BOB) is None
    d.available(BOB, PresencePayload(p2p=BOB_WAN, ed25519=bob.public_key.raw_bytes()))
    assert store.addrs(bob.peer_id)
    d.available(BOB, PresencePayload(p2p=None, ed25519=bob.public_key.raw_bytes()))
    assert store.addrs(bob.peer_id) == []  # presence without <p2p/> removes the addresses
    d.session_lost()
    assert not d.snapshot.presences
    assert not d.snapshot.online


def test_address_choice() -> None:
    peer = Identity.generate().peer_id
    relay = Multiaddr(f"/ip4/7.7.7.7/tcp/4001/p2p/{Identity.generate().peer_id}")
    same = candidate_addrs(OWN, BOB_LAN, peer, relay)
    assert [k for k, _ in same] == ["local", "external", "relay"]
    assert same[0][1] == Multiaddr(f"/ip4/10.0.0.3/tcp/4001/p2p/{peer}")
    assert same[1][1] == Multiaddr(f"/ip4/1.2.3.4/tcp/4002/p2p/{peer}")
    assert str(same[2][1]) == f"{relay}/p2p-circuit/p2p/{peer}"
    other = candidate_addrs(OWN, BOB_WAN, peer)
    assert [(k, str(a)) for k, a in other] == [
        ("external", f"/ip4/5.6.7.8/tcp/4100/p2p/{peer}"),
        ("local", f"/ip4/192.168.1.5/tcp/4001/p2p/{peer}"),
    ]
    no_nat = P2PInfo(ext_ip="5.6.7.8", ext_port=4001, loc_ip="5.6.7.8", loc_port=4001)
    assert len(candidate_addrs(OWN, no_nat, peer)) == 1
    assert candidate_addrs(None, BOB_LAN, peer)[0][0] == "external"


def test_pick_contact() -> None:
    d, _ = make_dir()
    assert pick_contact(d.snapshot, BOB).jid == BOB
    assert pick_contact(d.snapshot, Jid.parse("bob@x.org")).jid == BOB
    with pytest.raises(ContactNotAvailable):
        pick_contact(d.snapshot, Jid.parse("bob@x.org/other"))
    with pytest.raises(ContactNotAvailable):
        pick_contact(d.snapshot, Jid.parse("carol@x.org"))
    d, _ = make_dir(p2p=None)
    with pytest.raises(ContactHasNoP2PInfo):
        pick_contact(d.snapshot, BOB)
    d, _ = make_dir(sub="from")
    with pytest.raises(ContactNotAvailable):
        pick_contact(d.snapshot, BOB)
