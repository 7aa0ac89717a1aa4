"""Real prosody on 127.0.0.1, in-process nodes: login, discovery, dialling by JID, every
rejection reason through real Noise handshakes."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from p2pstack import Identity, open_node
from p2pstack.errors import StackError
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.xmpp import (
    ContactNotAvailable,
    Jid,
    Reason,
    XmppAuthError,
    XmppConfig,
    XmppDiscovery,
)
from p2pstack.protocols.discovery.xmpp.client import XmppClient
from p2pstack.protocols.ping import ping_peer
from tests.helpers.prosody import Prosody
from tests.helpers.xmpp import wait_contact, xmpp_config, xmpp_node


async def test_starttls_verified_scram_and_dial_by_jid(prosody_tls: Prosody) -> None:
    srv, friend = prosody_tls.jid("srv"), prosody_tls.jid("friend")
    async with (
        xmpp_node(prosody_tls, "srv", contacts=["friend"]) as (srv_node, srv_disco),
        xmpp_node(prosody_tls, "friend", contacts=["srv"]) as (fr_node, fr_disco),
    ):
        await wait_contact(fr_disco, f"{srv}/node")
        await wait_contact(srv_disco, f"{friend}/node")
        result = await fr_disco.dial(Jid.parse(srv), wait=10)  # bare JID: freshest resource
        assert result.kind == "local"
        assert result.connection.peer_id == srv_node.peer_id
        assert await ping_peer(fr_node, result.connection, count=1)
        last = srv_disco.gater.decisions[-1]
        assert last.allowed
        assert last.jid == Jid.parse(f"{friend}/node")
        # the presence fed the address book under the key's peer id
        assert fr_node.peerstore.addrs(srv_node.peer_id)
        # the client really negotiated TLS and SCRAM
        assert prosody_tls.logs().count("Authenticated as") >= 2


async def test_bad_ca_and_bad_password_fail(prosody_tls: Prosody, tmp_path: Path) -> None:
    wrong_ca = tmp_path / "ca.crt"
    other = Prosody({"x": "y"}, tls=True)
    try:
        assert other.cafile is not None
        wrong_ca.write_bytes(other.cafile.read_bytes())
    finally:
        other.close()
    events: list[object] = []
    cfg = xmpp_config(prosody_tls, "srv", reconnect_min=5.0)
    bad_ca = XmppConfig(**{**cfg.__dict__, "ca_file": wrong_ca})
    client = XmppClient(bad_ca, events.append)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        await trio.sleep(1.5)
        assert not client.online
        assert client.sessions == 0
        nursery.cancel_scope.cancel()
    bad_pw = XmppConfig(**{**cfg.__dict__, "password": "wrong"})
    with pytest.raises(XmppAuthError), trio.fail_after(15):
        await XmppClient(bad_pw, events.append).run()


async def test_plaintext_needs_explicit_opt_in(prosody: Prosody) -> None:
    cfg = xmpp_config(prosody, "srv", reconnect_min=5.0)
    no_plain = XmppConfig(**{**cfg.__dict__, "allow_plaintext": False})
    client = XmppClient(no_plain, lambda _: None)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        await trio.sleep(1.0)
        assert client.sessions == 0  # the server offers no usable TLS: never logged in
        nursery.cancel_scope.cancel()


async def _dial_raw(identity: Identity, target: Multiaddr) -> bool:
    """Dial ``target`` from a discovery-less node with ``identity``; True if it stuck."""
    async with open_node(identity=identity) as node:
        try:
            with trio.fail_after(10):
                conn = await node.dial(target)
                await ping_peer(node, conn, count=1, ping_timeout=5)
        except (StackError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return False
        return True


async def test_every_rejection_reason_live(prosody: Prosody) -> None:
    P = prosody
    srv_jid = f"{P.jid('srv')}/node"
    async with (
        xmpp_node(P, "srv", contacts=["friend"], reconnect_min=4.0, reconnect_max=4.0) as (
            srv_node,
            srv_disco,
        ),
        xmpp_node(P, "friend", contacts=["srv"]) as (fr_node, fr_disco),
    ):
        target = srv_node.addrs[0]
        decisions = srv_disco.gater.decisions
        await wait_contact(srv_disco, f"{P.jid('friend')}/node")
        await wait_contact(fr_disco, srv_jid)

        async def expect(identity: Identity, reason: Reason | None) -> None:
            before = len(decisions)
            ok = await _dial_raw(identity, target)
            assert ok == (reason is None)
            with trio.fail_after(5):
                while len(decisions) == before:  # noqa: ASYNC110 - the gater has no wait hook
                    await trio.sleep(0.01)
            assert decisions[-1].reason == reason, decisions[-1]

        # the friend itself is allowed
        result = await fr_disco.dial(srv_jid)
        assert result.connection.peer_id == srv_node.peer_id

        # not in roster: a stranger sends directed presence with p2p + key
        stranger = Identity.generate()
        async with xmpp_node(P, "stranger", identity=stranger) as (_, st_disco):
            st_disco.client.send_directed_presence(srv_jid, st_disco.client._presence or ())
            await wait_contact_any(srv_disco, f"{P.jid('stranger')}/node")
            await expect(stranger, Reason.NOT_IN_ROSTER)

        # no subscription: in our roster without a subscription, directed presence
        srv_disco.client.add_roster_item(P.jid("nosub"))
        nosub = Identity.generate()
        async with xmpp_node(P, "nosub", identity=nosub) as (_, ns_disco):
            with trio.fail_after(10):
                await srv_disco.directory.wait_for(lambda s: P.jid("nosub") in s.roster)
            ns_disco.client.send_directed_presence(srv_jid, ns_disco.client._presence)
            await wait_contact_any(srv_disco, f"{P.jid('nosub')}/node")
            assert srv_disco.directory.snapshot.roster[P.jid("nosub")] == "none"
            await expect(nosub, Reason.NO_SUBSCRIPTION)

        # no p2p info: a friend resource that does not listen publishes only its key
        nop2p = Identity.generate()
        async with xmpp_node(P, "friend", "nop2p", listen=False, identity=nop2p):
            await wait_contact(srv_disco, f"{P.jid('friend')}/nop2p", p2p=False)
            await expect(nop2p, Reason.NO_P2P_INFO)
            # unavailable: same key after that resource went offline (below)
        with trio.fail_after(10):
            await srv_disco.directory.wait_for(
                lambda s: s.lookup(Jid.parse(f"{P.jid('friend')}/nop2p")) is None
            )
        await expect(nop2p, Reason.UNAVAILABLE)

        # wrong key: someone at a contact's IP with a key nobody published
        await expect(Identity.generate(), Reason.WRONG_KEY)

        # wrong IP: a friend resource publishing an address it does not connect from
        wrongip = Identity.generate()
        async with xmpp_node(
            P, "friend", "wrongip", identity=wrongip, local_ip="127.0.0.2",
            external=("127.0.0.2", 4001),
        ):  # fmt: skip
            await wait_contact(srv_disco, f"{P.jid('friend')}/wrongip")
            await expect(wrongip, Reason.WRONG_IP)

        # stale after our reconnect: our session drops, the friend's presence is void
        await fr_node.hang_up(srv_node.peer_id)
        srv_disco.client.drop_connection()
        with trio.fail_after(10):
            await srv_disco.directory.wait_for(lambda s: not s.online)
        await expect(fr_node.identity, Reason.STALE)
        # after the reconnect (4 s backoff) the friend's fresh presence authorises again
        with trio.fail_after(20):
            await srv_disco.directory.wait_for(
                lambda s: s.online and s.lookup(Jid.parse(f"{P.jid('friend')}/node")) is not None
            )
        await wait_contact(srv_disco, f"{P.jid('friend')}/node")
        await expect(fr_node.identity, None)
        reasons = {d.reason for d in decisions}
        assert {
            Reason.NOT_IN_ROSTER,
            Reason.NO_SUBSCRIPTION,
            Reason.NO_P2P_INFO,
            Reason.UNAVAILABLE,
            Reason.WRONG_KEY,
            Reason.WRONG_IP,
            Reason.STALE,
        } <= reasons


async def wait_contact_any(disco: XmppDiscovery, jid: str) -> None:
    target = Jid.parse(jid)
    with trio.fail_after(10):
        await disco.directory.wait_for(lambda s: s.lookup(target) is not None)


async def test_dial_unknown_contact_typed_error(prosody: Prosody) -> None:
    async with xmpp_node(prosody, "carol") as (_, disco):
        with pytest.raises(ContactNotAvailable):
            await disco.dial(prosody.jid("srv"), wait=0.5)


async def test_reconnect_after_server_restart_republishes(prosody: Prosody) -> None:
    async with (
        xmpp_node(prosody, "srv", contacts=["friend"], reconnect_min=0.2, reconnect_max=1.0) as (
            srv_node,
            srv_disco,
        ),
        xmpp_node(prosody, "friend", contacts=["srv"], reconnect_min=0.2, reconnect_max=1.0) as (
            _,
            fr_disco,
        ),
    ):
        await wait_contact(fr_disco, f"{prosody.jid('srv')}/node")
        prosody.stop()
        with trio.fail_after(10):
            await fr_disco.directory.wait_for(lambda s: not s.online and not s.presences)
        prosody.start()
        await wait_contact(fr_disco, f"{prosody.jid('srv')}/node")
        await wait_contact(srv_disco, f"{prosody.jid('friend')}/node")
        assert srv_disco.client.sessions >= 2
        result = await fr_disco.dial(f"{prosody.jid('srv')}/node")
        assert result.connection.peer_id == srv_node.peer_id
