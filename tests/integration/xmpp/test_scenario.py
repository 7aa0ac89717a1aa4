"""The seed's scenario end to end: two LANs behind two NAT gateways (nftables masquerade +
miniupnpd), an XMPP server on the "WAN", nodes on both LANs and two on one LAN. Every node is a
``p2pstack node`` process inside its namespace; they register their port with UPnP, publish
``<p2p/>`` and their key in presence, find each other through presence and connect directly with
the right address (local on the same LAN, external across). A rogue claiming another LAN's
address is refused by the IP rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.netbed import NetBed, NodeProc, Router
from tests.helpers.prosody import Prosody
from tests.helpers.two_nat import DROP_UNSOLICITED

ACCOUNTS = ("a1", "a2", "b1")


@pytest.fixture
def world() -> Iterator[tuple[NetBed, Prosody]]:
    bed = NetBed()
    server: Prosody | None = None
    try:
        server = Prosody(
            {name: f"{name}-secret" for name in ACCOUNTS}, tls=True, ip=bed.wan_ip, netns=bed.wan
        )
        server.start()
        yield bed, server
    finally:
        if server is not None:
            server.close()
        bed.close()


def xmpp_args(server: Prosody, bed: NetBed, account: str, resource: str) -> list[str]:
    pw = bed.dir / f"{account}.pw"
    pw.write_text(server.users[account] + "\n")
    assert server.cafile is not None
    return [
        "--xmpp-jid", f"{server.jid(account)}/{resource}",
        "--xmpp-password-file", str(pw),
        "--xmpp-server", server.server,
        "--xmpp-ca", str(server.cafile),
    ]  # fmt: skip


def ping(bed: NetBed, server: Prosody, ns: str, account: str, resource: str, target: str,
         *extra: str, name: str, router: Router | None = None) -> NodeProc:  # fmt: skip
    upnp = ["--upnp", "--upnp-root-url", router.root_url] if router else []
    return bed.node(
        ns,
        ["-v", "ping", f"xmpp:{target}", "--count", "2", "--json", "--xmpp-wait", "40",
         *xmpp_args(server, bed, account, resource), *upnp, *extra],
        name,
    )  # fmt: skip


def result(proc: NodeProc, *others: NodeProc) -> dict[str, Any]:
    status = proc.wait_exit(90)
    assert status == 0, (proc.stderr(), [o.lines() for o in others])
    data: dict[str, Any] = json.loads(proc.out.read_text().splitlines()[-1])
    return data


def inbound(node: NodeProc, jid: str) -> dict[str, Any]:
    return node.wait_line(lambda ln: ln.get("event") == "xmpp_inbound" and ln["jid"] == jid)


def test_two_lans_two_gateways_presence_discovery(world: tuple[NetBed, Prosody]) -> None:
    bed, server = world
    ra = bed.router("ra", "1.2.3.4", "10.77.0")
    rb = bed.router("rb", "1.2.3.5", "10.88.0")
    hosts = {"a1": bed.host(ra, "a1", 2), "a2": bed.host(ra, "a2", 3), "b1": bed.host(rb, "b1", 2)}
    routers = {"a1": ra, "a2": ra, "b1": rb}
    nodes: dict[str, NodeProc] = {}
    for name, (ns, _) in hosts.items():
        contacts = [a for c in ACCOUNTS if c != name for a in ("--xmpp-contact", server.jid(c))]
        nodes[name] = bed.node(
            ns,
            ["-v", "node", "--listen", "/ip4/0.0.0.0/tcp/4001",
             "--key", str(bed.dir / f"{name}.key"),
             "--upnp", "--upnp-root-url", routers[name].root_url,
             *xmpp_args(server, bed, name, "node"), *contacts],
            name,
        )  # fmt: skip
    published = {}
    for name, node in nodes.items():
        router = routers[name]
        published[name] = node.wait_line(
            lambda ln, r=router: (
                ln.get("event") == "xmpp_published" and ln["p2p"]["extIp"] == r.wan_ip
            ),
            timeout=40,
        )["p2p"]
        assert published[name]["locIp"] == hosts[name][1]
        assert published[name]["locPort"] == 4001
    # two nodes behind one gateway: the second got another external port
    assert published["a1"]["extPort"] != published["a2"]["extPort"]

    a1_ns, b1_ns, a2_ns = hosts["a1"][0], hosts["b1"][0], hosts["a2"][0]
    # same LAN: the local address
    r = result(
        ping(bed, server, a1_ns, "a1", "ping", f"{server.jid('a2')}/node", name="p1", router=ra),
        nodes["a2"],
    )
    assert (r["kind"], r["remote_addr"]) == ("local", "/ip4/10.77.0.3/tcp/4001")
    assert len(r["rtts_ms"]) == 2
    d = inbound(nodes["a2"], f"{server.jid('a1')}/ping")
    assert d["allowed"]
    assert d["remote_ip"] == "10.77.0.2"
    # across the gateways: the external address (the UPnP mapping), through both NATs
    r = result(
        ping(bed, server, a1_ns, "a1", "ping2", f"{server.jid('b1')}/node", name="p2", router=ra)
    )
    assert r["kind"] == "external"
    assert r["remote_addr"] == f"/ip4/1.2.3.5/tcp/{published['b1']['extPort']}"
    d = inbound(nodes["b1"], f"{server.jid('a1')}/ping2")
    assert d["allowed"]
    assert d["remote_ip"] == "1.2.3.4"
    # a bare JID picks the contact's resource; the other node behind gateway A
    r = result(ping(bed, server, b1_ns, "b1", "ping", server.jid("a2"), name="p3", router=rb))
    assert r["kind"] == "external"
    assert r["remote_addr"] == f"/ip4/1.2.3.4/tcp/{published['a2']['extPort']}"
    assert r["jid"] == f"{server.jid('a2')}/node"
    assert inbound(nodes["a2"], f"{server.jid('b1')}/ping")["remote_ip"] == "1.2.3.5"
    r = result(
        ping(bed, server, a2_ns, "a2", "ping", f"{server.jid('a1')}/node", name="p4", router=ra)
    )
    assert (r["kind"], r["remote_addr"]) == ("local", "/ip4/10.77.0.2/tcp/4001")

    # a rogue on LAN B using a1's account, claiming to sit on LAN A: wrong IP, refused
    rogue = ping(bed, server, b1_ns, "a1", "rogue", f"{server.jid('a2')}/node",
                 "--xmpp-external", "1.2.3.4:4999", "--xmpp-local-ip", "10.77.0.9",
                 "--xmpp-wait", "8", name="rogue")  # fmt: skip
    assert rogue.wait_exit(60) != 0
    d = inbound(nodes["a2"], f"{server.jid('a1')}/rogue")
    assert not d["allowed"]
    assert d["reason"] == "wrong-ip"
    assert d["remote_ip"] == "1.2.3.5"

    for node in nodes.values():
        assert node.stop() == 0, node.stderr()
    for router in (ra, rb):
        assert "dport" not in bed.mappings(router)  # every mapping removed on shutdown


def test_contacts_behind_two_nats_meet_through_a_relay(world: tuple[NetBed, Prosody]) -> None:
    """No UPnP: each contact's published address is its LAN address, unreachable from the
    other LAN. b1 listens through a public p2pstack relay and publishes it in its presence; a1
    dials b1 by JID, the direct address fails, the relay reaches b1, and b1's gater admits a1
    by key and roster under the strict IP rule (the relay's IP is not a1's).

    Both run DCUtR (``--dcutr``, TCP port reuse): b1, which received the relayed connection,
    starts the hole punch; the NATs (port-preserving masquerade, unsolicited packets dropped as
    home routers do) let the simultaneous open through, and a1's gater admits the direct
    connection from b1's NAT address, which b1 never published, by b1's key while the relayed
    connection is live (strict IP rule still on). a1 then pings b1 over the direct path."""
    bed, server = world
    relay = bed.node(
        bed.wan,
        ["relay", "--listen", "/ip4/1.2.3.100/tcp/4003", "--key", str(bed.dir / "relay.key")],
        "relay",
    )
    relay_id = relay.wait_line(lambda ln: "peer_id" in ln)["peer_id"]
    relay_addr = f"/ip4/1.2.3.100/tcp/4003/p2p/{relay_id}"
    ra = bed.router("ra", "1.2.3.4", "10.77.0", upnp=False)
    rb = bed.router("rb", "1.2.3.5", "10.88.0", upnp=False)
    for router in (ra, rb):  # an early punch SYN is lost, not refused with a RST
        bed.sh(router.ns, "nft", "-f", "-", stdin=DROP_UNSOLICITED)
    a1_ns, _ = bed.host(ra, "a1", 2)
    b1_ns, b1_ip = bed.host(rb, "b1", 2)
    b1 = bed.node(
        b1_ns,
        ["-v", "node", "--listen", "/ip4/0.0.0.0/tcp/4001", "--relay-via", relay_addr, "--dcutr",
         "--xmpp-contact", server.jid("a1"), *xmpp_args(server, bed, "b1", "node")],
        "b1",
    )  # fmt: skip
    published = b1.wait_line(lambda ln: ln.get("event") == "xmpp_published", timeout=40)["p2p"]
    assert (published["extIp"], published["locIp"]) == (b1_ip, b1_ip)  # not reachable from A

    target = f"{server.jid('b1')}/node"
    pinger = ping(bed, server, a1_ns, "a1", "ping", target, "--xmpp-contact", server.jid("b1"),
                  "--dcutr", name="p1")  # fmt: skip
    r = result(pinger, b1)
    assert r["kind"] == "relay"
    assert r["remote_addr"] == f"{relay_addr}/p2p-circuit/p2p/{r['peer_id']}"
    assert len(r["rtts_ms"]) == 2
    d = inbound(b1, f"{server.jid('a1')}/ping")
    assert d["allowed"], d
    assert d["remote_ip"] is None  # relayed: the IP rule (strict) applies to direct connections
    # DCUtR: b1 punched, a1's gater admitted b1's unpublished NAT address by key.
    print({k: r[k] for k in ("hole_punch", "direct_addr", "direct_rtts_ms", "gater")})
    assert r["hole_punch"]["ok"], (r, b1.lines())
    assert r["direct_addr"].startswith("/ip4/1.2.3.5/tcp/4001"), r
    assert len(r["direct_rtts_ms"]) == 1
    gate = r["gater"]
    assert gate["allowed"], gate
    assert gate["remote_ip"] == "1.2.3.5", gate  # b1 published 10.88.0.2 only
    assert "hole punch" in gate["detail"], gate
    punched = b1.wait_line(lambda ln: ln.get("event") == "hole_punch")
    assert punched["ok"], punched
    assert punched["initiator"], punched
    assert punched["addr"].startswith("/ip4/1.2.3.4/"), punched
    assert b1.stop() == 0, b1.stderr()
    assert relay.stop() == 0, relay.stderr()
