"""mDNS keeps working when trio-asyncio (used by the XMPP client) has replaced asyncio's policy.

trio-asyncio patches ``asyncio.new_event_loop`` process-wide on import; zeroconf must not pick
up such a loop (its thread cannot run it). A node with both XMPP and mDNS hits this.
"""

from __future__ import annotations

import trio_asyncio  # noqa: F401  (imported for its side effect on asyncio's policy)

from p2pstack.compose import open_node
from p2pstack.protocols.discovery.mdns import PeerDiscovered

from .test_loopback import LISTEN, service, wait_discovered


async def test_mdns_starts_and_discovers_with_trio_asyncio_imported(no_thread_leak: None) -> None:
    async with (
        open_node(listen=LISTEN, services=[service()]) as a,
        open_node(listen=LISTEN, services=[service()]) as b,
    ):
        with a.events.subscribe() as events:
            found = await wait_discovered(events, b.peer_id)
        assert isinstance(found, PeerDiscovered)
