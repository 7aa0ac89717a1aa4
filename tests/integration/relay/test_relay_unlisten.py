"""Node.unlisten closes a relayed listener like any other."""

from __future__ import annotations

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.errors import DialError
from p2pstack.host.events import ListenAddrRemoved, ListenerClosed
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.relay import relay_server

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


async def test_unlisten_closes_a_relayed_listener() -> None:
    async with (
        open_node(listen=[LOOPBACK], services=[relay_server()]) as relay,
        open_node() as listener,
        open_node() as dialer,
    ):
        given = f"{relay.addrs[0]}/p2p-circuit"
        (bound,) = await listener.listen(given)
        target = bound.with_peer_id(listener.peer_id)
        assert (await dialer.dial(target)).peer_id == listener.peer_id
        await dialer.hang_up(listener.peer_id)
        removed: list[Multiaddr] = []
        with listener.events.subscribe() as events:
            assert await listener.unlisten(given)
            with trio.fail_after(5):
                async for event in events:
                    if isinstance(event, ListenAddrRemoved):
                        removed.append(event.addr)
                    if isinstance(event, ListenerClosed):
                        break
        assert removed == [bound]  # published once
        assert isinstance(event, ListenerClosed)
        assert event.addrs == (bound,)
        assert not any(a.has_protocol("p2p-circuit") for a in listener.listen_addrs)
        with pytest.raises(DialError):
            await dialer.dial(target)
