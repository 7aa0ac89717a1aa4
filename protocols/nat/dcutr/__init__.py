"""DCUtR (``/libp2p/dcutr``): hole punching over a relayed connection.

::

    open_node(transports=[tcp(TcpConfig(reuse_port=True)), circuit_relay()],
              services=[dcutr()], ...)

See :mod:`p2pstack.protocols.nat.dcutr.service` for the roles and timing, and
docs/guide/dcutr.md.
"""

from p2pstack.protocols.nat.dcutr.config import DCUtRConfig as DCUtRConfig
from p2pstack.protocols.nat.dcutr.events import (
    HolePunchFailed as HolePunchFailed,
    HolePunchSucceeded as HolePunchSucceeded,
)
from p2pstack.protocols.nat.dcutr.messages import (
    PROTOCOL_ID as PROTOCOL_ID,
    DCUtRMessageError as DCUtRMessageError,
    DCUtRProtocolError as DCUtRProtocolError,
    HolePunch as HolePunch,
    MessageType as MessageType,
)
from p2pstack.protocols.nat.dcutr.service import DCUtRService as DCUtRService, dcutr as dcutr

__all__ = [
    "PROTOCOL_ID",
    "DCUtRConfig",
    "DCUtRMessageError",
    "DCUtRProtocolError",
    "DCUtRService",
    "HolePunch",
    "HolePunchFailed",
    "HolePunchSucceeded",
    "MessageType",
    "dcutr",
]
