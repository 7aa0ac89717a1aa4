"""Stateless Retry tokens (RFC 9000 section 8.1.2): a listener validates a client's address
without keeping anything per client.

A token is ``format (1) | nonce (12) | AES-128-GCM(expiry (8, float64) | odcid length (1) |
original destination connection id)``, authenticated together with the client's address and
the Retry's source connection id (the DCID the client must use next). The key is random per
:class:`RetryTokens` (one per listener): tokens die with the listener, and an attacker who
reads our code still cannot forge one. Sans-IO: the time is passed in.
"""

from __future__ import annotations

import os
import struct
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from p2pstack.errors import DecodeError, InvalidConfigError

Address = tuple[str, int]

RETRY_TOKEN_LIFETIME: Final = 10.0
"""Seconds a Retry token is accepted after it was issued (a client answers a Retry at once,
so this only needs to cover a slow round trip)."""
TOKEN_FORMAT: Final = 0x01
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
MAX_CID_SIZE: Final = 20
_EXPIRY: Final = struct.Struct("!d")
MIN_TOKEN_SIZE: Final = 1 + NONCE_SIZE + _EXPIRY.size + 1 + TAG_SIZE
MAX_TOKEN_SIZE: Final = MIN_TOKEN_SIZE + MAX_CID_SIZE


class InvalidRetryToken(DecodeError):
    """A token we did not issue, issued for another address or connection id, or mangled."""


class ExpiredRetryToken(InvalidRetryToken):
    """A token we issued whose lifetime has passed."""


def _associated(address: Address, retry_cid: bytes) -> bytes:
    host, port = address
    return b"%d|%s|%d|" % (TOKEN_FORMAT, host.encode(), port) + retry_cid


def parse_plaintext(plaintext: bytes) -> tuple[float, bytes]:
    """``(expiry, original destination connection id)`` of a decrypted token.
    Raises InvalidRetryToken."""
    if len(plaintext) < _EXPIRY.size + 1:
        raise InvalidRetryToken("retry token too short")
    (expiry,) = _EXPIRY.unpack_from(plaintext)
    length = plaintext[_EXPIRY.size]
    original_cid = plaintext[_EXPIRY.size + 1 :]
    if length != len(original_cid) or length > MAX_CID_SIZE:
        raise InvalidRetryToken("retry token holds a malformed connection id")
    return expiry, original_cid


class RetryTokens:
    """Issues and checks one listener's Retry tokens (``key``: 16 bytes, random if None)."""

    def __init__(self, key: bytes | None = None, *, lifetime: float = RETRY_TOKEN_LIFETIME) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=128) if key is None else key)
        self.lifetime = lifetime

    def seal(
        self, plaintext: bytes, *, address: Address, retry_cid: bytes, nonce: bytes | None = None
    ) -> bytes:
        """Encrypt ``plaintext`` into a token bound to ``address`` and ``retry_cid`` (``nonce``:
        12 bytes, random if None; fixed only for test vectors)."""
        if nonce is None:
            nonce = os.urandom(NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, plaintext, _associated(address, retry_cid))
        return bytes((TOKEN_FORMAT,)) + nonce + sealed

    def issue(
        self, *, address: Address, original_cid: bytes, retry_cid: bytes, now: float
    ) -> bytes:
        """The token of a Retry sent to ``address`` (whose Initial was addressed to
        ``original_cid``) from source connection id ``retry_cid``."""
        if len(original_cid) > MAX_CID_SIZE:
            raise InvalidConfigError("a connection id is at most 20 bytes")
        plaintext = _EXPIRY.pack(now + self.lifetime) + bytes((len(original_cid),)) + original_cid
        return self.seal(plaintext, address=address, retry_cid=retry_cid)

    def validate(
        self, token: bytes, *, address: Address, destination_cid: bytes, now: float
    ) -> bytes:
        """The original destination connection id of a client Initial that carries ``token``,
        came from ``address`` and is addressed to ``destination_cid``.

        Raises:
            InvalidRetryToken: not one of ours, or not for this address and connection id.
            ExpiredRetryToken: one of ours, older than :attr:`lifetime`.
        """
        if not MIN_TOKEN_SIZE <= len(token) <= MAX_TOKEN_SIZE or token[0] != TOKEN_FORMAT:
            raise InvalidRetryToken("not a retry token of ours")
        nonce, sealed = token[1 : 1 + NONCE_SIZE], token[1 + NONCE_SIZE :]
        try:
            plaintext = self._aead.decrypt(nonce, sealed, _associated(address, destination_cid))
        except InvalidTag:
            raise InvalidRetryToken("retry token forged or for another address") from None
        expiry, original_cid = parse_plaintext(plaintext)
        if not now <= expiry:  # NaN never passes
            raise ExpiredRetryToken("retry token expired")
        return original_cid
