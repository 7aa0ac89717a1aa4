"""libp2p Noise (``/noise``): XX handshake with signed identity payloads, encrypted streams."""

from p2pstack.security.noise.cipher import (
    FrameDecryptor as FrameDecryptor,
    FrameEncryptor as FrameEncryptor,
)
from p2pstack.security.noise.errors import (
    NoiseDecryptError as NoiseDecryptError,
    NoiseNonceExhausted as NoiseNonceExhausted,
)
from p2pstack.security.noise.handshake import (
    HandshakeResult as HandshakeResult,
    NoiseHandshake as NoiseHandshake,
)
from p2pstack.security.noise.stream import NoiseStream as NoiseStream
from p2pstack.security.noise.transport import (
    PROTOCOL_ID as PROTOCOL_ID,
    NoiseConfig as NoiseConfig,
    NoiseTransport as NoiseTransport,
    noise as noise,
)

__all__ = [
    "PROTOCOL_ID",
    "FrameDecryptor",
    "FrameEncryptor",
    "HandshakeResult",
    "NoiseConfig",
    "NoiseDecryptError",
    "NoiseHandshake",
    "NoiseNonceExhausted",
    "NoiseStream",
    "NoiseTransport",
    "noise",
]
