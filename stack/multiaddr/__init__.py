"""Multiaddrs: self-describing, composable network addresses (string and binary forms)."""

from .codec import MAX_BINARY_SIZE as MAX_BINARY_SIZE
from .codec import MAX_STRING_SIZE as MAX_STRING_SIZE
from .codec import Component as Component
from .multiaddr import Multiaddr as Multiaddr
from .protocols import PROTOCOLS as PROTOCOLS
from .protocols import Protocol as Protocol
from .protocols import protocol_by_code as protocol_by_code
from .protocols import protocol_by_name as protocol_by_name

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
