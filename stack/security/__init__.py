"""Security protocols: the upgrader's contract and the Noise implementation."""

from .base import SecureStream as SecureStream, SecurityTransport as SecurityTransport
from .noise import NoiseConfig as NoiseConfig, noise as noise

__all__ = ["NoiseConfig", "SecureStream", "SecurityTransport", "noise"]
