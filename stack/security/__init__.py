"""Security protocols: the upgrader's contract and the Noise implementation."""

from p2pstack.abc.security import (
    SecureStream as SecureStream,
    SecurityTransport as SecurityTransport,
)
from p2pstack.security.noise import NoiseConfig as NoiseConfig, noise as noise

__all__ = ["NoiseConfig", "SecureStream", "SecurityTransport", "noise"]
