"""py-libp2p 0.8.1 dials a p2pstack QUIC listener that answers every first Initial with a
Retry (stateless address validation): it comes back with the token and connects."""

from __future__ import annotations

from p2pstack.compose import open_node
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping
from p2pstack.transports.quic import QuicConfig, quic
from tests.integration.quic.recording import RecordingQuic
from tests.interop.peers import run_dial

QUIC_LISTEN = "/ip4/127.0.0.1/udp/0/quic-v1"


async def test_py_libp2p_answers_our_retry() -> None:
    recording = RecordingQuic(quic(QuicConfig(retry="always")))
    async with open_node(
        listen=[QUIC_LISTEN], transports=[recording], protocols=[ping(), identify()]
    ) as node:
        result = await run_dial("py", str(node.addrs[0]), ping=2, identify=True)
        assert result["peer_id"] == str(node.peer_id)
        assert len(result["ping_rtts_ms"]) == 2
        (listener,) = recording.listeners
        assert listener.retries_sent >= 1
        assert listener.tokens_refused == 0
