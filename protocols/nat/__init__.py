"""NAT traversal: internet gateway registration (UPnP IGD) and AutoNAT (reachability)."""

from p2pstack.protocols.nat.autonat import (
    AutoNATConfig as AutoNATConfig,
    AutoNATService as AutoNATService,
    autonat as autonat,
)
from p2pstack.protocols.nat.upnp import (
    Gateway as Gateway,
    GatewayRefused as GatewayRefused,
    NatError as NatError,
    NatState as NatState,
    NoGatewayFound as NoGatewayFound,
    PortMapping as PortMapping,
    PrivateExternalAddress as PrivateExternalAddress,
    UpnpConfig as UpnpConfig,
    UpnpService as UpnpService,
    check_external_ip as check_external_ip,
    upnp as upnp,
)

__all__ = [
    "AutoNATConfig",
    "AutoNATService",
    "Gateway",
    "GatewayRefused",
    "NatError",
    "NatState",
    "NoGatewayFound",
    "PortMapping",
    "PrivateExternalAddress",
    "UpnpConfig",
    "UpnpService",
    "autonat",
    "check_external_ip",
    "upnp",
]
