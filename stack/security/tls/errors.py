"""Errors of libp2p TLS: why a peer's certificate (or the TLS session) was refused."""

from __future__ import annotations

from p2pstack.errors import DecodeError, ProtocolError


class CertificateError(ProtocolError):
    """A peer's certificate chain is well formed but not acceptable (expired, bad signature...)."""


class CertificateDecodeError(CertificateError, DecodeError):
    """A peer's certificate (or its libp2p extension) could not be parsed."""


class TlsProtocolError(ProtocolError):
    """The TLS session failed: a bad record, an alert, a wrong ALPN or TLS version."""
