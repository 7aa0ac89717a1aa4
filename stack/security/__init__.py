"""Security protocols: the upgrader's contract, Noise and libp2p TLS 1.3."""

from p2pstack.abc.security import (
    SecureStream as SecureStream,
    SecurityTransport as SecurityTransport,
)
from p2pstack.security.noise import NoiseConfig as NoiseConfig, noise as noise
from p2pstack.security.tls import TlsConfig as TlsConfig, tls as tls

__all__ = ["NoiseConfig", "SecureStream", "SecurityTransport", "TlsConfig", "noise", "tls"]
