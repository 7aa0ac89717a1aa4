"""Multiaddrs: self-describing, composable network addresses (string and binary forms)."""

from p2pstack.multiaddr.codec import (
    MAX_BINARY_SIZE as MAX_BINARY_SIZE,
    MAX_STRING_SIZE as MAX_STRING_SIZE,
    Component as Component,
)
from p2pstack.multiaddr.multiaddr import Multiaddr as Multiaddr
from p2pstack.multiaddr.protocols import (
    PROTOCOLS as PROTOCOLS,
    Protocol as Protocol,
    protocol_by_code as protocol_by_code,
    protocol_by_name as protocol_by_name,
)

__all__ = [
    "MAX_BINARY_SIZE",
    "MAX_STRING_SIZE",
    "PROTOCOLS",
    "Component",
    "Multiaddr",
    "Protocol",
    "protocol_by_code",
    "protocol_by_name",
]
