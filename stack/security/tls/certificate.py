"""libp2p TLS certificates (libp2p/specs ``tls/tls.md``): generate ours, verify a peer's.

Ours: a self-signed X.509 certificate on a fresh ECDSA P-256 key (ecdsa-with-SHA256), carrying
the libp2p Public Key Extension (:data:`EXTENSION_OID`, marked critical) whose value is the DER
``SignedKey`` of our identity key and its signature over :data:`SIGNATURE_PREFIX` + the
certificate's SubjectPublicKeyInfo DER. Valid from one hour ago for 100 years (as go-libp2p).

A peer's chain is accepted only if it holds exactly one certificate that parses, is valid at
``now``, verifies as self-signed, carries the extension exactly once, has no other critical
extension we do not know, and whose ``SignedKey`` signature verifies under the identity key it
names (Ed25519, secp256k1, ECDSA or RSA). The result is that key and its peer id. Sans-IO: no
trio, time is passed in. Refusals raise only :class:`CertificateError` subclasses.
"""

from __future__ import annotations

import datetime
import secrets
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from p2pstack.errors import InvalidKeyError
from p2pstack.identity.identity import Identity
from p2pstack.identity.keys import PublicKey
from p2pstack.identity.peer_id import PeerId
from p2pstack.security.tls.errors import CertificateDecodeError, CertificateError
from p2pstack.security.tls.signed_key import decode_signed_key, encode_signed_key

EXTENSION_OID: Final = x509.ObjectIdentifier("1.3.6.1.4.1.53594.1.1")
"""The libp2p Public Key Extension (IANA PEN 53594 of Protocol Labs)."""
SIGNATURE_PREFIX: Final = b"libp2p-tls-handshake:"
"""Prefixed to the certificate's SubjectPublicKeyInfo DER before the identity key signs it."""
VALIDITY: Final = datetime.timedelta(days=365 * 100)
"""How long our certificates are valid (they are per connection; go uses 100 years too)."""
BACKDATE: Final = datetime.timedelta(hours=1)
"""How far into the past ``NotBefore`` is set, to tolerate clock skew."""
MAX_CERTIFICATE_LEN: Final = 64 * 1024
"""Larger certificates are refused unparsed."""
_PARSE_ERRORS: Final = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
"""What ``cryptography`` raises for malformed certificate parts (parsed lazily, on access)."""


@dataclass(frozen=True, slots=True)
class LocalCertificate:
    """Our certificate and its ephemeral private key, as ``cryptography`` objects and DER."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @property
    def certificate_der(self) -> bytes:
        """The certificate in DER."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def private_key_der(self) -> bytes:
        """The ephemeral private key as unencrypted PKCS#8 DER."""
        return self.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True, slots=True)
class VerifiedPeer:
    """What a verified certificate proves: the peer's identity key and its peer id."""

    public_key: PublicKey
    peer_id: PeerId


def _utc(now: datetime.datetime | float | None) -> datetime.datetime:
    if now is None:
        return datetime.datetime.now(datetime.UTC)
    if isinstance(now, datetime.datetime):
        return now if now.tzinfo else now.replace(tzinfo=datetime.UTC)
    return datetime.datetime.fromtimestamp(now, datetime.UTC)


def generate_certificate(
    identity: Identity, *, now: datetime.datetime | float | None = None
) -> LocalCertificate:
    """A fresh self-signed certificate for ``identity`` (``now``: wall clock, default now)."""
    start = _utc(now)
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signed_key = encode_signed_key(
        identity.public_key.to_protobuf(), identity.sign(SIGNATURE_PREFIX + spki)
    )
    serial = secrets.randbits(63) + 1
    name = x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, str(serial))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start - BACKDATE)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.UnrecognizedExtension(EXTENSION_OID, signed_key), critical=True)
        .sign(key, hashes.SHA256())
    )
    return LocalCertificate(cert, key)


def verify_certificate_chain(
    chain: Sequence[bytes | x509.Certificate], *, now: datetime.datetime | float | None = None
) -> VerifiedPeer:
    """Verify a peer's certificate chain (DER or parsed) and return who it authenticates.

    Raises:
        CertificateDecodeError: the certificate or its extension is malformed.
        CertificateError: not exactly one certificate, not valid at ``now``, bad self-signature,
            an unknown critical extension, or a SignedKey signature that does not verify.
    """
    if len(chain) != 1:
        raise CertificateError(f"expected exactly one certificate, got {len(chain)}")
    return verify_certificate(chain[0], now=now)


def verify_certificate(
    certificate: bytes | x509.Certificate, *, now: datetime.datetime | float | None = None
) -> VerifiedPeer:
    """Verify one peer certificate; see :func:`verify_certificate_chain`."""
    with warnings.catch_warnings():
        # cryptography deprecates some lax encodings (a non-positive serial number...): they
        # are tolerated here, as by go and js, instead of surfacing as warnings.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return _verify(certificate, now)


def _verify(
    certificate: bytes | x509.Certificate, now: datetime.datetime | float | None
) -> VerifiedPeer:
    cert = _parse(certificate)
    when = _utc(now)
    try:
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    except _PARSE_ERRORS as exc:
        raise CertificateDecodeError(f"malformed certificate validity: {exc}") from exc
    if when < not_before:
        raise CertificateError(f"certificate not valid before {not_before.isoformat()}")
    if when > not_after:
        raise CertificateError(f"certificate expired at {not_after.isoformat()}")
    value = _extension_value(cert)
    try:
        cert.verify_directly_issued_by(cert)
    except InvalidSignature as exc:
        raise CertificateError("certificate self-signature does not verify") from exc
    except _PARSE_ERRORS as exc:
        raise CertificateError(f"certificate is not verifiably self-signed: {exc}") from exc
    key_bytes, signature = decode_signed_key(value)
    try:
        public_key = PublicKey.from_protobuf(key_bytes)
    except InvalidKeyError as exc:
        raise CertificateDecodeError(f"bad identity key in the libp2p extension: {exc}") from exc
    try:
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except _PARSE_ERRORS as exc:
        raise CertificateError(f"unsupported certificate key: {exc}") from exc
    if not public_key.verify(SIGNATURE_PREFIX + spki, signature):
        raise CertificateError("the libp2p extension's signature does not verify")
    return VerifiedPeer(public_key, public_key.to_peer_id())


def _parse(certificate: bytes | x509.Certificate) -> x509.Certificate:
    if isinstance(certificate, x509.Certificate):
        return certificate
    data = bytes(certificate)
    if len(data) > MAX_CERTIFICATE_LEN:
        raise CertificateDecodeError(f"certificate of {len(data)} bytes exceeds the limit")
    try:
        return x509.load_der_x509_certificate(data)
    except _PARSE_ERRORS as exc:
        raise CertificateDecodeError(f"malformed certificate: {exc}") from exc


def _extension_value(cert: x509.Certificate) -> bytes:
    """The libp2p extension's value; refuses unknown critical extensions and duplicates."""
    try:
        extensions = list(cert.extensions)
    except _PARSE_ERRORS as exc:
        raise CertificateDecodeError(f"malformed certificate extensions: {exc}") from exc
    found: bytes | None = None
    for ext in extensions:
        if ext.oid == EXTENSION_OID:
            if not isinstance(ext.value, x509.UnrecognizedExtension):  # pragma: no cover
                raise CertificateDecodeError("unexpected parse of the libp2p extension")
            found = ext.value.value
        elif ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
            raise CertificateError(f"unknown critical extension {ext.oid.dotted_string}")
    if found is None:
        raise CertificateError("the certificate lacks the libp2p public key extension")
    return found
