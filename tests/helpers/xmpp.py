"""XMPP test helpers: node configs and in-process nodes with XMPP discovery on a prosody."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio

from p2pstack import Identity, open_node
from p2pstack.host.node import Node
from p2pstack.protocols.discovery.xmpp import (
    DiscoveryConfig,
    XmppConfig,
    XmppDiscovery,
    xmpp_discovery,
)
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping
from tests.helpers.prosody import Prosody


def xmpp_config(server: Prosody, user: str, resource: str = "node", **kwargs: object) -> XmppConfig:
    tls = server.cafile is not None
    return XmppConfig(
        jid=f"{server.jid(user)}/{resource}",
        password=server.users[user],
        server=(server.ip, server.port),
        ca_file=server.cafile,
        allow_plaintext=not tls,
        **kwargs,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def xmpp_node(
    server: Prosody,
    user: str,
    resource: str = "node",
    *,
    contacts: Sequence[str] = (),
    listen: bool = True,
    identity: Identity | None = None,
    **config: object,
) -> AsyncIterator[tuple[Node, XmppDiscovery]]:
    xmpp_kwargs = {k: config.pop(k) for k in list(config) if k.startswith("reconnect")}
    cfg = DiscoveryConfig(
        xmpp=xmpp_config(
            server, user, resource, contacts=tuple(server.jid(c) for c in contacts), **xmpp_kwargs
        ),
        **config,  # type: ignore[arg-type]
    )
    disco = xmpp_discovery(cfg)
    async with open_node(
        identity=identity or Identity.generate(),
        protocols=[ping(), identify()],
        services=[disco],
        listen=["/ip4/127.0.0.1/tcp/0"] if listen else [],
    ) as node:
        with trio.fail_after(15):
            await disco.wait_online()
        yield node, disco


async def wait_contact(disco: XmppDiscovery, jid: str, *, p2p: bool = True) -> None:
    from p2pstack.protocols.discovery.xmpp import Jid

    target = Jid.parse(jid)

    def ready(snap: object) -> bool:
        s = disco.directory.snapshot
        c = s.lookup(target)
        return c is not None and s.is_subscribed(target) and (c.p2p is not None or not p2p)

    with trio.fail_after(15):
        await disco.directory.wait_for(ready)
