"""Circuit relay v2: relay server (hop), relay client transport (dial and listen through
relays, stop), relay discovery, signed reservation vouchers and relay metrics.

Run a relay::

    open_node(listen=[...], services=[relay_server()])

Listen through a relay (the default transports include the relay transport)::

    await node.listen("/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW.../p2p-circuit")

Dial ``<relay addr>/p2p/<relay>/p2p-circuit/p2p/<target>`` like any other address.
"""

from p2pstack.protocols.relay.client import (
    ReservationInfo as ReservationInfo,
    connect as connect,
    reserve as reserve,
)
from p2pstack.protocols.relay.config import RateLimit as RateLimit, RelayConfig as RelayConfig
from p2pstack.protocols.relay.discovery import (
    AutoRelayConfig as AutoRelayConfig,
    RelayDiscovery as RelayDiscovery,
    RelayDropped as RelayDropped,
    RelayReserved as RelayReserved,
    auto_relay as auto_relay,
)
from p2pstack.protocols.relay.errors import (
    EnvelopeError as EnvelopeError,
    RelayMessageError as RelayMessageError,
    RelayProtocolError as RelayProtocolError,
    RelayRefused as RelayRefused,
    VoucherError as VoucherError,
)
from p2pstack.protocols.relay.hop import RelayService as RelayService, relay_server as relay_server
from p2pstack.protocols.relay.messages import (
    HOP_PROTOCOL as HOP_PROTOCOL,
    STOP_PROTOCOL as STOP_PROTOCOL,
    Limit as Limit,
)
from p2pstack.protocols.relay.metrics import RelayMetrics as RelayMetrics
from p2pstack.protocols.relay.status import Status as Status
from p2pstack.protocols.relay.transport import (
    CircuitRelayTransport as CircuitRelayTransport,
    RelayClientConfig as RelayClientConfig,
    RelayListener as RelayListener,
    circuit_relay as circuit_relay,
)

__all__ = [
    "HOP_PROTOCOL",
    "STOP_PROTOCOL",
    "AutoRelayConfig",
    "CircuitRelayTransport",
    "EnvelopeError",
    "Limit",
    "RateLimit",
    "RelayClientConfig",
    "RelayConfig",
    "RelayDiscovery",
    "RelayDropped",
    "RelayListener",
    "RelayMessageError",
    "RelayMetrics",
    "RelayProtocolError",
    "RelayRefused",
    "RelayReserved",
    "RelayService",
    "ReservationInfo",
    "Status",
    "VoucherError",
    "auto_relay",
    "circuit_relay",
    "connect",
    "relay_server",
    "reserve",
]
