"""The interfaces every layer implements: transports, security, muxers, and the memory budget.

Foundation: this package imports nothing from the host, the transports, the muxers or the
protocols (checked by the import contract in tests/architecture/).
"""

from p2pstack.abc.budget import UNLIMITED, MemoryBudget, Unlimited
from p2pstack.abc.muxer import MuxedSession, MuxedStream, StreamMuxer
from p2pstack.abc.security import SecureStream, SecurityTransport
from p2pstack.abc.transport import NodeAwareTransport, RawConnection, Transport, TransportListener

__all__ = [
    "UNLIMITED",
    "MemoryBudget",
    "MuxedSession",
    "MuxedStream",
    "NodeAwareTransport",
    "RawConnection",
    "SecureStream",
    "SecurityTransport",
    "StreamMuxer",
    "Transport",
    "TransportListener",
    "Unlimited",
]
