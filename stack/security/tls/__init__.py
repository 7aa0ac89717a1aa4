"""libp2p TLS 1.3 (``/tls/1.0.0``): certificates carrying the libp2p public key extension."""

from p2pstack.security.tls.certificate import (
    EXTENSION_OID as EXTENSION_OID,
    SIGNATURE_PREFIX as SIGNATURE_PREFIX,
    LocalCertificate as LocalCertificate,
    VerifiedPeer as VerifiedPeer,
    generate_certificate as generate_certificate,
    verify_certificate as verify_certificate,
    verify_certificate_chain as verify_certificate_chain,
)
from p2pstack.security.tls.errors import (
    CertificateDecodeError as CertificateDecodeError,
    CertificateError as CertificateError,
    TlsProtocolError as TlsProtocolError,
)

__all__ = [
    "EXTENSION_OID",
    "SIGNATURE_PREFIX",
    "CertificateDecodeError",
    "CertificateError",
    "LocalCertificate",
    "TlsProtocolError",
    "VerifiedPeer",
    "generate_certificate",
    "verify_certificate",
    "verify_certificate_chain",
]
