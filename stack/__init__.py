"""p2pstack: a libp2p-compatible peer-to-peer networking stack for trio.

The names most programs need are re-exported here; the factories for transports, security,
muxers and protocols live in their own packages (``p2pstack.transports.tcp.tcp``,
``p2pstack.security.noise.noise``, ``p2pstack.muxers.yamux.yamux``,
``p2pstack.protocols.ping.ping``...).
"""

from p2pstack.compose import open_node as open_node
from p2pstack.errors import (
    ConnectionDenied as ConnectionDenied,
    DialError as DialError,
    HandshakeError as HandshakeError,
    InvalidConfigError as InvalidConfigError,
    LimitExceeded as LimitExceeded,
    NegotiationFailed as NegotiationFailed,
    PeerIdMismatch as PeerIdMismatch,
    ProtocolError as ProtocolError,
    StackError as StackError,
)
from p2pstack.host.admission import AdmissionLimits as AdmissionLimits
from p2pstack.host.config import NodeConfig as NodeConfig
from p2pstack.host.connection import Connection as Connection
from p2pstack.host.gater import Gater as Gater
from p2pstack.host.limits import ConnectionLimits as ConnectionLimits, Watermarks as Watermarks
from p2pstack.host.netstream import NetStream as NetStream
from p2pstack.host.node import Node as Node
from p2pstack.host.resources import MemoryLimits as MemoryLimits
from p2pstack.identity import Identity as Identity, PeerId as PeerId
from p2pstack.multiaddr import Multiaddr as Multiaddr
from p2pstack.role import Role as Role

__all__ = [
    "AdmissionLimits",
    "Connection",
    "ConnectionDenied",
    "ConnectionLimits",
    "DialError",
    "Gater",
    "HandshakeError",
    "Identity",
    "InvalidConfigError",
    "LimitExceeded",
    "MemoryLimits",
    "Multiaddr",
    "NegotiationFailed",
    "NetStream",
    "Node",
    "NodeConfig",
    "PeerId",
    "PeerIdMismatch",
    "ProtocolError",
    "Role",
    "StackError",
    "Watermarks",
    "open_node",
]
