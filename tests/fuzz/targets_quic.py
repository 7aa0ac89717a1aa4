"""Fuzz targets of QUIC: hostile datagrams into the listener's demultiplexer and aioquic
(``quic_datagrams``), Retry tokens (``quic_retry_token``) and the invariant long header
(``quic_long_header``).

``quic_datagrams``: the bytes are cut into datagrams (see :func:`.registry.chunks`); each is
fed, from one of two source addresses, to a listener on a UDP socket of 127.0.0.1.
Invariant: nothing but a StackError escapes, and the listener never holds more connections
than its handshake limit. A datagram starting with the byte ``0xc0`` is padded to 1200 bytes
(an Initial's minimum), so that long headers get past the size check.
"""

from __future__ import annotations

from typing import Final

import trio

from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.quic import QuicConfig, quic
from p2pstack.transports.quic.endpoint import QuicListener
from p2pstack.transports.quic.packets import encode_version_negotiation, parse_long_header
from p2pstack.transports.quic.retry import RetryTokens

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


_TOKENS = RetryTokens(bytes(16))
TOKEN_CLIENT: Final = ("127.0.0.1", 40001)
TOKEN_RETRY_CID: Final = bytes(8)


@target("quic_retry_token")
def quic_retry_token(data: bytes) -> None:
    """``data[0]`` even: ``data[1:]`` is a token as a client sends it; odd: ``data[1:]`` is a
    plaintext sealed with the listener's key (so the bytes reach the parser behind the AEAD).
    Checked at the time 0, by the address and connection id the token is bound to."""
    if not data:
        return
    body = data[1:]
    if data[0] % 2:
        body = _TOKENS.seal(body, address=TOKEN_CLIENT, retry_cid=TOKEN_RETRY_CID)
    decodes(_TOKENS.validate, body, address=TOKEN_CLIENT, destination_cid=TOKEN_RETRY_CID, now=0.0)


@target("quic_long_header")
def quic_long_header(data: bytes) -> None:
    """The invariant long header of any version, and the Version Negotiation answer to it."""
    header = decodes(parse_long_header, data)
    if header is not None:
        encode_version_negotiation(header, [1])
