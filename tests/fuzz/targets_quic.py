"""Fuzz target of the QUIC listener: hostile datagrams into its demultiplexer and aioquic.

The bytes are cut into datagrams (see :func:`.registry.chunks`); each is fed, from one of
two source addresses, to a listener on a UDP socket of 127.0.0.1. Invariant: nothing but a
StackError escapes, and the listener never holds more connections than its handshake limit.
A datagram starting with the byte ``0xc0`` is padded to 1200 bytes (an Initial's minimum),
so that long headers get past the size check.
"""

from __future__ import annotations

import trio

from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.quic import QuicConfig, quic
from p2pstack.transports.quic.endpoint import QuicListener

from .registry import chunks, decodes, target

_CONFIG = QuicConfig(max_pending_handshakes=4)
_TRANSPORT = quic(_CONFIG, identity=Identity.from_ed25519_seed(bytes(32)))
_SOURCES = (("127.0.0.1", 40001), ("127.0.0.1", 40002))


async def _feed(datagrams: list[bytes]) -> None:
    listener = await _TRANSPORT.listen(Multiaddr("/ip4/127.0.0.1/udp/0/quic-v1"))
    assert isinstance(listener, QuicListener)
    try:
        for index, datagram in enumerate(datagrams):
            if datagram[:1] == b"\xc0":
                datagram = datagram.ljust(1200, b"\x00")
            decodes(listener.datagram_received, datagram, _SOURCES[index % 2])
            assert listener.num_connections <= _CONFIG.max_pending_handshakes
    finally:
        await listener.aclose()


@target("quic_datagrams")
def quic_datagrams(data: bytes) -> None:
    trio.run(_feed, chunks(data))
