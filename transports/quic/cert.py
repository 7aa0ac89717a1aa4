"""The libp2p TLS certificate (libp2p/specs tls/tls.md), as QUIC uses it.

A node presents a self-signed X.509 certificate for a fresh ECDSA P-256 key; the extension
``1.3.6.1.4.1.53594.1.1`` holds ``SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature
OCTET STRING }``: the host's protobuf public key and its signature over
``"libp2p-tls-handshake:" + DER(SubjectPublicKeyInfo of the certificate key)``. The peer's
id is derived from that host key; no CA is involved.

(A stand-in until ``p2pstack.security.tls.certificate`` lands; the transport uses only
:func:`make_certificate` and :func:`verify_certificate`.)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from p2pstack.errors import DecodeError, HandshakeError, InvalidKeyError
from p2pstack.identity import Identity
from p2pstack.identity.keys import PublicKey

EXTENSION_OID: Final = x509.ObjectIdentifier("1.3.6.1.4.1.53594.1.1")
SIGNATURE_PREFIX: Final = b"libp2p-tls-handshake:"
_VALIDITY: Final = datetime.timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Certificate:
    """Our certificate and its private key, as aioquic takes them."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey


def make_certificate(identity: Identity) -> Certificate:
    """A fresh self-signed certificate for ``identity`` (valid from an hour ago for a year)."""
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signed_key = _der_sequence(
        _der_octets(identity.public_key.to_protobuf()),
        _der_octets(identity.sign(SIGNATURE_PREFIX + spki)),
    )
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, "1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.UnrecognizedExtension(EXTENSION_OID, signed_key), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Certificate(cert, key)


def verify_certificate(cert: x509.Certificate | None) -> PublicKey:
    """Check the libp2p extension of the peer's certificate and return the host key it
    proves (``.to_peer_id()`` is the peer's id).

    Raises:
        HandshakeError: no certificate, expired, not self-signed, or a bad extension.
    """
    if cert is None:
        raise HandshakeError("the peer presented no certificate")
    now = datetime.datetime.now(datetime.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise HandshakeError("the peer's certificate is not valid now")
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise HandshakeError(f"the peer's certificate is not self-signed: {exc}") from exc
    try:
        ext = cert.extensions.get_extension_for_oid(EXTENSION_OID).value
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise HandshakeError("the peer's certificate lacks the libp2p extension") from exc
    if not isinstance(ext, x509.UnrecognizedExtension):
        raise HandshakeError("the libp2p extension is malformed")
    try:
        key_bytes, signature = _parse_signed_key(ext.value)
        host_key = PublicKey.from_protobuf(key_bytes)
    except (DecodeError, InvalidKeyError) as exc:
        raise HandshakeError(f"the libp2p extension is malformed: {exc}") from exc
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if not host_key.verify(SIGNATURE_PREFIX + spki, signature):
        raise HandshakeError("the libp2p extension's signature does not verify")
    return host_key


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_octets(data: bytes) -> bytes:
    return b"\x04" + _der_length(len(data)) + data


def _der_sequence(*items: bytes) -> bytes:
    body = b"".join(items)
    return b"\x30" + _der_length(len(body)) + body


def _der_read(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """One TLV of ``tag`` at ``pos``: (value, position after it). Raises DecodeError."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise DecodeError(f"expected DER tag {tag:#x}")
    length, pos = data[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or pos + count > len(data):
            raise DecodeError("bad DER length")
        length, pos = int.from_bytes(data[pos : pos + count], "big"), pos + count
    if pos + length > len(data):
        raise DecodeError("truncated DER value")
    return data[pos : pos + length], pos + length


def _parse_signed_key(data: bytes) -> tuple[bytes, bytes]:
    body, end = _der_read(data, 0, 0x30)
    if end != len(data):
        raise DecodeError("trailing bytes after SignedKey")
    key, pos = _der_read(body, 0, 0x04)
    signature, pos = _der_read(body, pos, 0x04)
    if pos != len(body):
        raise DecodeError("trailing bytes in SignedKey")
    return key, signature
