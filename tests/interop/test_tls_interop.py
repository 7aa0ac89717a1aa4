"""p2pstack's libp2p TLS 1.3 (``/tls/1.0.0``) against js-libp2p (@libp2p/tls) and py-libp2p
over TCP, both directions: identify, ping, echo (plus concurrent streams), and the
``p2pstack ping --security tls`` command line. The peers run with ``--security tls`` (TLS only).
Also the inlined muxer negotiation (Yamux through ALPN), which js-libp2p speaks and py-libp2p
declines (both ways: our node dials, then is dialled).
"""

from __future__ import annotations

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.identity import Identity, PeerId
from p2pstack.protocols.echo import echo
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping
from p2pstack.security import TlsConfig, tls
from p2pstack.security.tls import TlsStream, TlsTransport
from tests.interop.checks import ONE_MIB, assert_peer_dialled, cli_ping, exchange, identified
from tests.interop.peers import JS_PEER, PY_PEER, Impl, dial_argv, run_script, script_listening

IMPLS = ["js", "py"]
SCRIPTS = {"js": JS_PEER, "py": PY_PEER}
TLS = ["--security", "tls"]


@pytest.mark.parametrize("impl", IMPLS)
async def test_peer_dials_p2pstack_over_tls(impl: Impl) -> None:
    # The node offers /tls/1.0.0 only: a successful dial is a TLS one.
    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"], security=[tls()], protocols=[ping(), identify(), echo()]
    ) as node:
        addr = str(node.addrs[0])
        argv = dial_argv(addr, ping=3, identify=True, echo=ONE_MIB, streams=4, timeout=60)
        result = await run_script(impl, SCRIPTS[impl], [*argv, *TLS], time_limit=70)
        assert_peer_dialled(result, node, pings=3, streams=4)


@pytest.mark.parametrize("impl", IMPLS)
async def test_p2pstack_dials_peer_over_tls(impl: Impl) -> None:
    ident = identify()
    listen = ["listen", "--listen", "/ip4/127.0.0.1/tcp/0", *TLS]
    async with (
        script_listening(impl, SCRIPTS[impl], listen) as peer,
        open_node(security=[tls()], protocols=[ping(), ident, echo()]) as node,
    ):
        conn = await node.dial(peer.addr("tcp"))
        assert str(conn.peer_id) == peer.peer_id
        assert conn.security_protocol == "/tls/1.0.0"
        await identified(ident, conn, impl)
        await exchange(node, conn, pings=3, streams=4)


@pytest.mark.parametrize("impl", IMPLS)
async def test_cli_ping_over_tls(impl: Impl) -> None:
    listen = ["listen", "--listen", "/ip4/127.0.0.1/tcp/0", *TLS]
    async with script_listening(impl, SCRIPTS[impl], listen) as peer:
        report = await cli_ping(peer.addr("tcp"), count=2, options=TLS)
    assert report["peer_id"] == peer.peer_id


YAMUX = "/yamux/1.0.0"
EARLY = {"js": YAMUX, "py": None}
"""What ALPN agrees on with our node offering Yamux inline: js-libp2p does inlined muxer
negotiation, py-libp2p (by default) offers and accepts ``libp2p`` only."""


class Recording:
    """The TLS transport with inlined Yamux, noting what ALPN agreed on per handshake."""

    def __init__(self) -> None:
        self.inner = TlsTransport(TlsConfig(muxers=(YAMUX,)))
        self.protocol_id = self.inner.protocol_id
        self.early: list[str | None] = []

    async def secure_outbound(
        self, stream: trio.abc.Stream, identity: Identity, expected_peer: PeerId | None
    ) -> TlsStream:
        secure = await self.inner.secure_outbound(stream, identity, expected_peer)
        self.early.append(secure.early_muxer)
        return secure

    async def secure_inbound(self, stream: trio.abc.Stream, identity: Identity) -> TlsStream:
        secure = await self.inner.secure_inbound(stream, identity)
        self.early.append(secure.early_muxer)
        return secure


@pytest.mark.parametrize("impl", IMPLS)
async def test_inlined_muxer_negotiation_both_ways(impl: Impl) -> None:
    security = Recording()
    listen = ["listen", "--listen", "/ip4/127.0.0.1/tcp/0", *TLS]
    async with (
        script_listening(impl, SCRIPTS[impl], listen) as peer,
        open_node(
            listen=["/ip4/127.0.0.1/tcp/0"], security=[security], protocols=[ping(), echo()]
        ) as node,
    ):
        conn = await node.dial(peer.addr("tcp"))
        assert conn.muxer_protocol == YAMUX
        await exchange(node, conn, pings=2, streams=0, echo=200_000)
        argv = dial_argv(str(node.addrs[0]), ping=2, echo=ONE_MIB, timeout=60)
        result = await run_script(impl, SCRIPTS[impl], [*argv, *TLS], time_limit=70)
        assert result["echo_ok"] is True
    assert security.early == [EARLY[impl], EARLY[impl]]
