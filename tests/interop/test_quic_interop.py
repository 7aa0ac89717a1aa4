"""p2pstack against py-libp2p 0.8.1 over QUIC v1, both directions: identify, ping, echo,
concurrent streams and perf."""

from __future__ import annotations

from p2pstack.compose import open_node
from p2pstack.protocols.echo import echo
from p2pstack.protocols.identify import identify
from p2pstack.protocols.perf import perf, perf_peer
from p2pstack.protocols.ping import ping
from p2pstack.transports.quic import quic
from tests.interop.checks import ONE_MIB, assert_peer_dialled, exchange, identified
from tests.interop.peers import peer_listening, run_dial

QUIC_LISTEN = "/ip4/127.0.0.1/udp/0/quic-v1"


async def test_py_libp2p_dials_p2pstack_over_quic() -> None:
    async with open_node(
        listen=[QUIC_LISTEN], transports=[quic()], protocols=[ping(), identify(), echo(), perf()]
    ) as node:
        addr = str(node.addrs[0])
        assert "/quic-v1/p2p/" in addr
        result = await run_dial("py", addr, ping=5, identify=True, echo=ONE_MIB, streams=8)
        assert_peer_dialled(result, node, pings=5, streams=8)
        figures = await run_dial("py", addr, perf_upload=ONE_MIB, perf_download=ONE_MIB)
        assert figures["perf"]["upload_bytes"] == ONE_MIB
        assert figures["perf"]["download_bytes"] == ONE_MIB


async def test_p2pstack_dials_py_libp2p_over_quic() -> None:
    ident = identify()
    async with (
        peer_listening("py", listen=[QUIC_LISTEN]) as peer,
        open_node(transports=[quic()], protocols=[ping(), ident, echo()]) as node,
    ):
        addr = next(a for a in peer.listen_addrs if "/quic-v1" in a)
        conn = await node.dial(addr)
        assert str(conn.peer_id) == peer.peer_id
        assert conn.muxer_protocol == "quic-v1"
        await identified(ident, conn, "py")
        await exchange(node, conn, pings=5, streams=8)
        result = await perf_peer(node, conn, upload=2 * ONE_MIB, download=2 * ONE_MIB)
        assert result.upload_bytes == 2 * ONE_MIB
        assert result.download_bytes == 2 * ONE_MIB
