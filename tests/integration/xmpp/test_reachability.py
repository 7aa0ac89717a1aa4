"""Real prosody on 127.0.0.1: presence follows the node's reachability, and a contact whose
direct addresses are unreachable is reached through the relay it published, under the strict
IP rule (then directly, as after a hole punch, while the relayed connection lives). Loopback
aliases stand for separate hosts: each node publishes 127.0.0.x addresses nobody listens on,
the relay's connections come from 127.0.0.1, which no contact published."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio

from p2pstack import Identity, open_node
from p2pstack.errors import StackError
from p2pstack.host.node import Node
from p2pstack.host.reachability import Reachability, ReachabilityStatus
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.xmpp import IpRule, Jid, Reason, XmppDiscovery
from p2pstack.protocols.discovery.xmpp.directory import Contact
from p2pstack.protocols.ping import ping_peer
from p2pstack.protocols.relay import relay_server
from tests.helpers.prosody import Prosody, free_port
from tests.helpers.xmpp import wait_contact, xmpp_node

PRIVATE = ReachabilityStatus(Reachability.PRIVATE)


def public(addr: str) -> ReachabilityStatus:
    return ReachabilityStatus(Reachability.PUBLIC, ((Multiaddr(addr), Reachability.PUBLIC),))


async def contact_where(
    disco: XmppDiscovery, jid: str, predicate: Callable[[Contact], bool]
) -> Contact:
    """Wait until ``jid``'s current presence satisfies ``predicate``."""
    target = Jid.parse(jid)

    def ready(snap: object) -> bool:
        c = disco.directory.snapshot.lookup(target)
        return c is not None and predicate(c)

    with trio.fail_after(15):
        await disco.directory.wait_for(ready)
    contact = disco.directory.snapshot.lookup(target)
    assert contact is not None
    return contact


async def dial_and_ping(node: Node, addr: Multiaddr) -> None:
    with trio.fail_after(10):
        conn = await node.dial(addr)
        await ping_peer(node, conn, count=1, ping_timeout=5)


async def test_relay_fallback_under_the_strict_ip_rule(prosody: Prosody) -> None:
    P = prosody
    srv_jid, fr_jid = f"{P.jid('srv')}/node", f"{P.jid('friend')}/node"
    closed = free_port()
    fr_identity = Identity.generate()
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], services=[relay_server()]) as relay,
        xmpp_node(
            P, "srv", contacts=["friend"], local_ip="127.0.0.3", external=("127.0.0.2", closed)
        ) as (srv_node, srv_disco),
        xmpp_node(
            P,
            "friend",
            contacts=["srv"],
            identity=fr_identity,
            local_ip="127.0.0.5",
            external=("127.0.0.4", closed),
        ) as (fr_node, fr_disco),
    ):
        assert srv_disco.gater.config.ip_rule is IpRule.STRICT
        await wait_contact(srv_disco, fr_jid)
        # srv is measured private and listens through the relay: its presence says so
        await srv_node.listen(f"{relay.addrs[0]}/p2p-circuit")
        srv_node.set_reachability(PRIVATE, source="test")
        contact = await contact_where(fr_disco, srv_jid, lambda c: bool(c.payload.relays))
        assert contact.payload.relays == (relay.addrs[0].encapsulate("/p2p-circuit"),)
        assert contact.p2p is not None
        assert (contact.p2p.ext_ip, contact.p2p.loc_ip) == ("127.0.0.2", "127.0.0.3")

        # both direct addresses fail; the published relay reaches srv (no relay configured)
        result = await fr_disco.dial(srv_jid)
        assert result.kind == "relay"
        assert result.connection.remote_addr.has_protocol("p2p-circuit")
        assert await ping_peer(fr_node, result.connection, count=1)
        last = srv_disco.gater.decisions[-1]
        assert last.allowed, last
        assert (last.relayed, last.remote_ip, last.jid) == (True, None, Jid.parse(fr_jid))

        # a direct connection with the friend's key from an IP it did not publish (what a
        # hole punch makes) passes while the relayed connection lives...
        direct = next(a for a in srv_node.addrs if not a.has_protocol("p2p-circuit"))
        async with open_node(identity=fr_identity) as punch:
            await dial_and_ping(punch, direct)
        last = srv_disco.gater.decisions[-1]
        assert (last.allowed, last.relayed, last.remote_ip) == (True, False, "127.0.0.1")
        assert "hole punch" in last.detail
        # ... and the IP rule guards direct connections again once it is gone
        await result.connection.aclose()
        with trio.fail_after(10):
            while srv_disco.gater.relayed_peers():  # noqa: ASYNC110 - no hook to wait on
                await trio.sleep(0.01)
        before = len(srv_disco.gater.decisions)
        async with open_node(identity=fr_identity) as again:
            with pytest.raises((StackError, trio.BrokenResourceError, trio.ClosedResourceError)):
                await dial_and_ping(again, direct)
        assert len(srv_disco.gater.decisions) > before
        assert srv_disco.gater.decisions[-1].reason == Reason.IP_NOT_PUBLISHED


async def test_presence_follows_reachability(prosody: Prosody) -> None:
    P = prosody
    srv_jid = f"{P.jid('srv')}/node"
    closed = free_port()
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], services=[relay_server()]) as relay,
        xmpp_node(P, "srv", contacts=["friend"], external=("127.0.0.2", closed)) as (
            srv_node,
            _,
        ),
        xmpp_node(P, "friend", contacts=["srv"]) as (_, fr_disco),
    ):
        await srv_node.listen(f"{relay.addrs[0]}/p2p-circuit")
        circuit = relay.addrs[0].encapsulate("/p2p-circuit")

        def shows(ext: str, relays: tuple[Multiaddr, ...]) -> Callable[[Contact], bool]:
            def check(c: Contact) -> bool:
                p2p = c.p2p
                return (
                    p2p is not None
                    and f"{p2p.ext_ip}:{p2p.ext_port}" == ext
                    and c.payload.relays == relays
                )

            return check

        # nothing measured: the configured external address, and the relayed address
        await contact_where(fr_disco, srv_jid, shows(f"127.0.0.2:{closed}", (circuit,)))
        # AutoNAT confirms an address public: it is published, the relay no longer is
        srv_node.set_reachability(public("/ip4/127.0.0.9/tcp/4321"), source="test")
        await contact_where(fr_disco, srv_jid, shows("127.0.0.9:4321", ()))
        # private again: back to the configured address, with the relay
        srv_node.set_reachability(PRIVATE, source="test")
        await contact_where(fr_disco, srv_jid, shows(f"127.0.0.2:{closed}", (circuit,)))
        # an announced address (e.g. a gateway mapping) comes before the configured one
        srv_node.set_announced_addrs([Multiaddr("/ip4/127.0.0.8/tcp/4400")])
        await contact_where(fr_disco, srv_jid, shows("127.0.0.8:4400", (circuit,)))
        # the reservation goes: the relayed address leaves the presence
        assert await srv_node.unlisten(f"{relay.addrs[0]}/p2p-circuit")
        await contact_where(fr_disco, srv_jid, shows("127.0.0.8:4400", ()))
