"""The exception hierarchy of p2pstack.

Everything the stack raises on purpose derives from :class:`StackError`. Bad input from the
network never surfaces as anything but a :class:`ProtocolError` subclass (or, on stream
methods, trio's ``BrokenResourceError`` whose ``__cause__`` is one).
"""

from __future__ import annotations


class StackError(Exception):
    """Root of every error p2pstack raises deliberately."""


class InvalidConfigError(StackError, ValueError):
    """A configuration value or API argument is invalid."""


class ProtocolError(StackError):
    """A wire protocol was violated.

    ``remote`` is True when the peer sent the offending bytes and False when our own side
    attempted something illegal. ``error_code`` is the code a protocol sends when it aborts
    because of this error (a Yamux GoAway code, a relay status...), where it has one.
    """

    error_code: int = 1

    def __init__(self, message: str, *, remote: bool = True) -> None:
        super().__init__(message)
        self.remote = remote

    @property
    def side(self) -> str:
        """``"remote"`` or ``"local"``: who broke the protocol."""
        return "remote" if self.remote else "local"


class DecodeError(ProtocolError, ValueError):
    """Bytes (or text) could not be decoded into a well-formed value."""


class VarintError(DecodeError):
    """An unsigned varint is non-minimal, too long or truncated."""


class MessageTooLarge(ProtocolError):
    """A length prefix announced more bytes than the protocol allows."""


class MultiaddrError(DecodeError):
    """A multiaddr string or byte string is malformed or unsupported."""


class PeerIdError(DecodeError):
    """A peer id string or multihash is malformed."""


class InvalidKeyError(DecodeError):
    """A serialized public or private key is malformed or of an unsupported type."""


class EnvelopeDecodeError(DecodeError):
    """A signed envelope (or the peer record it carries) is malformed or over a size limit."""


class SignedEnvelopeError(ProtocolError):
    """A signed envelope does not verify: bad signature, key or payload type."""


class PeerRecordError(SignedEnvelopeError):
    """A signed peer record verifies but is not acceptable: its signer is not the peer it
    names, or it names another peer than the one it came from."""


class KeyFileError(StackError):
    """A key file could not be read, parsed or written."""


class SignatureError(StackError):
    """A signature did not verify."""


class NegotiationFailed(StackError):
    """multistream-select found no protocol both sides support."""

    def __init__(self, message: str, *, protocols: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.protocols = protocols


class HandshakeError(StackError):
    """A security handshake failed (bad signature, bad message, timeout...)."""


class PeerIdMismatch(HandshakeError):
    """The authenticated remote peer is not the peer we meant to dial."""

    def __init__(self, expected: object, actual: object) -> None:
        super().__init__(f"expected peer {expected}, but the remote authenticated as {actual}")
        self.expected = expected
        self.actual = actual


class LimitExceeded(StackError):
    """A resource limit refused an operation.

    ``limit`` names the limit (for example ``"yamux.max_streams"`` or ``"memory"``); ``scope``
    names the resource scope whose limit it is (``"system"``, ``"peer:12D3KooW..."``,
    ``"connection:7"``...; empty when the limit belongs to no scope); ``local`` tells whether it
    is our own limit (True) or the remote's refusal (False).
    """

    def __init__(self, message: str, *, limit: str, local: bool = True, scope: str = "") -> None:
        super().__init__(message)
        self.limit = limit
        self.local = local
        self.scope = scope


class TransportError(StackError):
    """A transport could not dial or listen."""


class MultiaddrNotSupported(TransportError):
    """No configured transport handles this multiaddr."""


class DialError(StackError):
    """Dialling a peer failed; ``attempts`` lists each address tried and why it failed."""

    def __init__(
        self, message: str, attempts: list[tuple[str, BaseException]] | None = None
    ) -> None:
        detail = "; ".join(f"{addr}: {err}" for addr, err in attempts or [])
        super().__init__(f"{message} ({detail})" if detail else message)
        self.attempts = list(attempts or [])


class ConnectionDenied(StackError):
    """A gater or limit refused a connection at one upgrade stage."""

    def __init__(self, message: str, *, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


class NodeClosed(StackError):
    """The node is shutting down or has stopped."""


class UnexpectedEOF(ProtocolError):
    """The peer closed its side while a message was only partly received."""


class NegotiationTimeout(NegotiationFailed):
    """multistream-select did not finish within its time limit."""


class MultistreamError(ProtocolError):
    """The peer broke multistream-select: bad header, malformed message or unexpected reply."""
