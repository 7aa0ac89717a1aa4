"""libp2p Noise (``/noise``): XX handshake with signed identity payloads, encrypted streams."""

from .cipher import FrameDecryptor as FrameDecryptor
from .cipher import FrameEncryptor as FrameEncryptor
from .errors import NoiseDecryptError as NoiseDecryptError
from .errors import NoiseNonceExhausted as NoiseNonceExhausted
from .handshake import HandshakeResult as HandshakeResult
from .handshake import NoiseHandshake as NoiseHandshake
from .stream import NoiseStream as NoiseStream
from .transport import PROTOCOL_ID as PROTOCOL_ID
from .transport import NoiseConfig as NoiseConfig
from .transport import NoiseTransport as NoiseTransport
from .transport import noise as noise

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
