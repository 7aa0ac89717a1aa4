"""Request-response behind a firewall: one peer is denied, the others served.

The server allows everyone by default (``Rules(inbound=AllowAll())``) and gives Mallory a
per-peer rule, ``RejectAll()``: her requests fail with ``NotPermitted`` before the handler
sees them, and the refusal is published on the server's ``node.events`` as ``InboundFailure``.

Run: ``python examples/firewall.py`` (three nodes on 127.0.0.1).
"""

from __future__ import annotations

from typing import Any

import trio

from p2pstack import open_node
from p2pstack.protocols.request_response import (
    AllowAll,
    Firewall,
    InboundFailure,
    JsonCodec,
    NotPermitted,
    RejectAll,
    RequestContext,
    RequestDirection,
    Rules,
    request_response,
)

TIME = "/example/time/1.0.0"


async def tell_time(request: Any, context: RequestContext) -> Any:
    return {"to": request["name"], "time": "12:00"}


async def main() -> None:
    firewall = Firewall(default=Rules(inbound=AllowAll(), outbound=AllowAll()))
    server_rr = request_response(TIME, JsonCodec(), handler=tell_time, firewall=firewall)
    alice_rr = request_response(TIME, JsonCodec(), serve=False)
    mallory_rr = request_response(TIME, JsonCodec(), serve=False)
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[server_rr]) as server,
        open_node(protocols=[alice_rr]) as alice,
        open_node(protocols=[mallory_rr]) as mallory,
    ):
        firewall.set_peer_rule(mallory.peer_id, RejectAll(), RequestDirection.INBOUND)
        print("alice:", await alice_rr.request(server.addrs[0], {"name": "alice"}, timeout=10))
        with server.events.subscribe() as events:
            try:
                await mallory_rr.request(server.addrs[0], {"name": "mallory"}, timeout=10)
            except NotPermitted as exc:
                print("mallory refused:", type(exc).__name__)
            else:
                raise SystemExit("the firewall let Mallory through")
            with trio.fail_after(5):
                async for event in events:
                    if isinstance(event, InboundFailure):
                        assert event.peer_id == mallory.peer_id
                        print("server event: InboundFailure", type(event.error).__name__)
                        break
        # Rules change at run time: without her own rule, the default (allow) applies.
        firewall.remove_peer_rule(mallory.peer_id, RequestDirection.INBOUND)
        print("mallory:", await mallory_rr.request(server.peer_id, {"name": "mallory"}))
        print("alice connected:", server.connection_to(alice.peer_id) is not None)


if __name__ == "__main__":
    trio.run(main)
