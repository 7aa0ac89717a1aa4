"""libp2p Noise (``/noise``): XX handshake with signed identity payloads, encrypted streams."""

from .cipher import FrameDecryptor as FrameDecryptor, FrameEncryptor as FrameEncryptor
from .errors import (
    NoiseDecryptError as NoiseDecryptError,
    NoiseNonceExhausted as NoiseNonceExhausted,
)
from .handshake import HandshakeResult as HandshakeResult, NoiseHandshake as NoiseHandshake
from .stream import NoiseStream as NoiseStream
from .transport import (
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
