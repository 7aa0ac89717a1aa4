"""Relay fallback for ordinary dials: a dial whose direct addresses fail retries through the
dialing relays (all of them with relay_fallback on, a peer's own relays always)."""

from __future__ import annotations

import pytest

from p2pstack.compose import open_node
from p2pstack.errors import DialError, InvalidConfigError
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.ping import ping_peer
from p2pstack.protocols.relay import relay_server

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
DEAD = Multiaddr("/ip4/127.0.0.1/tcp/1")


async def test_a_failed_direct_dial_falls_back_to_the_dialing_relays() -> None:
    async with (
        open_node(listen=[LOOPBACK], services=[relay_server()]) as relay,
        open_node() as target,
        open_node() as dialer,
    ):
        await target.listen(f"{relay.addrs[0]}/p2p-circuit")
        dialer.peerstore.add_addrs(target.peer_id, [DEAD])
        dialer.add_dialing_relay(relay.addrs[0])
        assert dialer.dialing_relays == (relay.addrs[0],)
        with pytest.raises(DialError) as info:  # fallback is off by default
            await dialer.dial(target.peer_id)
        assert len(info.value.attempts) == 1
        dialer.relay_fallback = True
        conn = await dialer.dial(target.peer_id)
        assert conn.limited
        assert conn.peer_id == target.peer_id
        assert len(await ping_peer(dialer, conn)) == 1
        assert dialer.remove_dialing_relay(relay.addrs[0])
        assert not dialer.remove_dialing_relay(relay.addrs[0])


async def test_a_peers_own_relay_is_used_without_the_fallback_option() -> None:
    async with (
        open_node(listen=[LOOPBACK], services=[relay_server()]) as relay,
        open_node() as target,
        open_node() as dialer,
    ):
        await target.listen(f"{relay.addrs[0]}/p2p-circuit")
        dialer.add_dialing_relay(relay.addrs[0], peer=target.peer_id)
        assert dialer.peer_relays == {target.peer_id: (relay.addrs[0],)}
        conn = await dialer.dial(target.peer_id)  # no direct address known at all
        assert conn.limited
        assert dialer.remove_dialing_relay(relay.addrs[0], peer=target.peer_id)
        assert dialer.peer_relays == {}


async def test_a_dialing_relay_must_name_the_relay() -> None:
    async with open_node() as node:
        with pytest.raises(InvalidConfigError):
            node.add_dialing_relay(DEAD)


async def test_a_dialing_relay_is_never_dialled_through_another() -> None:
    async with open_node() as node:
        first = Multiaddr(f"/ip4/127.0.0.1/tcp/1/p2p/{Identity.generate().peer_id}")
        second = Multiaddr(f"/ip4/127.0.0.1/tcp/2/p2p/{Identity.generate().peer_id}")
        node.add_dialing_relay(first)
        node.add_dialing_relay(second)
        node.relay_fallback = True
        with pytest.raises(DialError) as info:
            await node.dial(first)
        assert [addr for addr, _ in info.value.attempts] == [str(first)]
