"""Peers discovered over XMPP are counted from the discovery's directory (no XMPP server:
the directory is fed as the client would feed it). mDNS: see test_loopback."""

from __future__ import annotations

import trio.testing
from prometheus_client import CollectorRegistry

from p2pstack.compose import open_node
from p2pstack.identity import Identity
from p2pstack.protocols.discovery.metrics import DiscoveryMetrics, register_discovery_metrics
from p2pstack.protocols.discovery.xmpp import DiscoveryConfig, XmppConfig, xmpp_discovery
from p2pstack.protocols.discovery.xmpp.jid import Jid
from p2pstack.protocols.discovery.xmpp.presence import P2PInfo, PresencePayload
from tests.helpers import wait_until

BOB = Jid.parse("bob@x.org/node")
CAROL = Jid.parse("carol@x.org/node")
WAN = P2PInfo(ext_ip="5.6.7.8", ext_port=4100, loc_ip="192.168.1.5", loc_port=4001)
MOVED = P2PInfo(ext_ip="5.6.7.9", ext_port=4100, loc_ip="192.168.1.5", loc_port=4001)


async def test_xmpp_contacts_with_new_peer_info_are_counted() -> None:
    disco = xmpp_discovery(DiscoveryConfig(xmpp=XmppConfig(jid="me@x.org", password="pw")))
    counted = DiscoveryMetrics(xmpp=[disco])
    registry = CollectorRegistry()
    register_discovery_metrics(counted, registry)

    def found() -> float:
        name = "p2pstack_discovery_peers_discovered_total"
        return registry.get_sample_value(name, {"source": "xmpp"}) or 0

    bob, carol = Identity.generate().public_key.raw_bytes(), Identity.generate()
    directory = disco.directory
    async with open_node(services=[counted]):
        directory.session_started(Jid.parse("me@x.org/p2pstack"))
        directory.available(BOB, PresencePayload(p2p=WAN, ed25519=bob))
        await wait_until(lambda: found() == 1)
        directory.available(BOB, PresencePayload(p2p=WAN, ed25519=bob))  # nothing new
        directory.available(CAROL, PresencePayload(p2p=WAN))  # no key: no peer id
        directory.available(BOB, PresencePayload(p2p=MOVED, ed25519=bob))  # new addresses
        await wait_until(lambda: found() == 2)
        carol_key = carol.public_key.raw_bytes()
        directory.available(CAROL, PresencePayload(p2p=WAN, ed25519=carol_key))
        await wait_until(lambda: found() == 3)
        await trio.testing.wait_all_tasks_blocked()
        assert found() == 3
        assert (
            registry.get_sample_value(
                "p2pstack_discovery_peers_discovered_total", {"source": "mdns"}
            )
            == 0
        )
