"""A key-value store over request-response.

The server keeps a dict; clients send ``{"op": "put"|"get"|"delete", "key": ..., "value": ...}``
as JSON requests (one stream per request) and get ``{"ok": ..., "value": ...}`` back.

Run: ``python examples/kv_store.py`` (a server and a client on 127.0.0.1).
"""

from __future__ import annotations

from typing import Any

import trio

from p2pstack import open_node
from p2pstack.protocols.request_response import JsonCodec, RequestContext, request_response

KV = "/example/kv/1.0.0"


class Store:
    """The server's state and its request handler."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    async def handle(self, request: Any, context: RequestContext) -> Any:
        op, key = request["op"], request["key"]
        if op == "put":
            self.data[key] = request["value"]
            return {"ok": True}
        if op == "get":
            return {"ok": key in self.data, "value": self.data.get(key)}
        if op == "delete":
            return {"ok": self.data.pop(key, None) is not None}
        return {"ok": False, "error": f"unknown op {op!r}"}


async def main() -> None:
    store = Store()
    server_rr = request_response(KV, JsonCodec(), handler=store.handle)
    client_rr = request_response(KV, JsonCodec(), serve=False)
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[server_rr]) as server,
        open_node(protocols=[client_rr]) as client,
    ):
        target = server.addrs[0]
        print(await client_rr.request(target, {"op": "put", "key": "colour", "value": "blue"}))
        print(await client_rr.request(target, {"op": "get", "key": "colour"}))
        # Once connected, the peer id is enough: the node reuses the connection.
        print(await client_rr.request(server.peer_id, {"op": "delete", "key": "colour"}))
        print(await client_rr.request(server.peer_id, {"op": "get", "key": "colour"}))
        print(await client_rr.request(server.peer_id, {"op": "rename", "key": "x"}))
        print(f"server holds {len(store.data)} keys; client is {client.peer_id.short()}")


if __name__ == "__main__":
    trio.run(main)
