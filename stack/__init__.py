"""p2pstack: a libp2p-compatible peer-to-peer networking stack for trio.

The names most programs need are re-exported here; the factories for transports, security,
muxers and protocols live in their own packages (``transports.tcp.tcp``,
``stack.security.noise.noise``, ``muxers.yamux.yamux``, ``protocols.ping.ping``...).
"""

from .connection import Connection as Connection, Direction as Direction
from .errors import (
    ConnectionDenied as ConnectionDenied,
    DialError as DialError,
    HandshakeError as HandshakeError,
    LimitExceeded as LimitExceeded,
    NegotiationFailed as NegotiationFailed,
    PeerIdMismatch as PeerIdMismatch,
    ProtocolError as ProtocolError,
    StackError as StackError,
)
from .gater import Gater as Gater
from .identity import Identity as Identity, PeerId as PeerId
from .multiaddr import Multiaddr as Multiaddr
from .netstream import NetStream as NetStream
from .node import Node as Node, NodeConfig as NodeConfig, open_node as open_node

__all__ = [
    "Connection",
    "ConnectionDenied",
    "DialError",
    "Direction",
    "Gater",
    "HandshakeError",
    "Identity",
    "LimitExceeded",
    "Multiaddr",
    "NegotiationFailed",
    "NetStream",
    "Node",
    "NodeConfig",
    "PeerId",
    "PeerIdMismatch",
    "ProtocolError",
    "StackError",
    "open_node",
]
