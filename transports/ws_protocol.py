"""Errors and constants of the WebSocket transport (the protocol itself is wsproto's)."""

from __future__ import annotations

from typing import Final

from p2pstack.errors import ProtocolError

DEFAULT_MAX_HANDSHAKE_SIZE: Final = 16 * 1024

# Close codes (RFC 6455 §7.4.1).
CLOSE_NORMAL: Final = 1000
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_NO_STATUS: Final = 1005
CLOSE_TOO_BIG: Final = 1009
EOF_CLOSE_CODES: Final = frozenset({CLOSE_NORMAL, CLOSE_NO_STATUS})


class WebSocketError(ProtocolError):
    """The peer broke RFC 6455; ``close_code`` is what we answer with in the Close frame."""

    def __init__(
        self, message: str, *, close_code: int = CLOSE_PROTOCOL_ERROR, remote: bool = True
    ) -> None:
        super().__init__(message, remote=remote)
        self.close_code = close_code


class WebSocketHandshakeError(WebSocketError):
    """The HTTP upgrade failed. ``response`` holds the bytes a server sent back (or b"")."""

    def __init__(self, message: str, *, response: bytes = b"", remote: bool = True) -> None:
        super().__init__(message, remote=remote)
        self.response = response


class WebSocketClosed(ProtocolError):
    """The peer closed the WebSocket with a code other than 1000/1005 (an error)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"peer closed the WebSocket with code {code}: {reason or '(no reason)'}")
        self.code = code
        self.reason = reason
