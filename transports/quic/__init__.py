"""QUIC v1 transport (``/udp/N/quic-v1``): TLS 1.3 and streams by QUIC itself, on aioquic."""

from p2pstack.transports.quic.config import QuicConfig as QuicConfig
from p2pstack.transports.quic.session import (
    QuicSession as QuicSession,
    QuicSessionClosed as QuicSessionClosed,
)
from p2pstack.transports.quic.stream import QuicStream as QuicStream, StreamReset as StreamReset
from p2pstack.transports.quic.transport import (
    QuicTransport as QuicTransport,
    is_quic_addr as is_quic_addr,
    quic as quic,
)

__all__ = [
    "QuicConfig",
    "QuicSession",
    "QuicSessionClosed",
    "QuicStream",
    "QuicTransport",
    "StreamReset",
    "is_quic_addr",
    "quic",
]
