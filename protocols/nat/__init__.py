"""NAT traversal: internet gateway registration (UPnP IGD)."""

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
    "Gateway",
    "GatewayRefused",
    "NatError",
    "NatState",
    "NoGatewayFound",
    "PortMapping",
    "PrivateExternalAddress",
    "UpnpConfig",
    "UpnpService",
    "check_external_ip",
    "upnp",
]
