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
from p2pstack.security.tls.session import TlsSession as TlsSession
from p2pstack.security.tls.stream import TlsStream as TlsStream
from p2pstack.security.tls.transport import (
    PROTOCOL_ID as PROTOCOL_ID,
    TlsConfig as TlsConfig,
    TlsTransport as TlsTransport,
    tls as tls,
)

__all__ = [
    "EXTENSION_OID",
    "PROTOCOL_ID",
    "SIGNATURE_PREFIX",
    "CertificateDecodeError",
    "CertificateError",
    "LocalCertificate",
    "TlsConfig",
    "TlsProtocolError",
    "TlsSession",
    "TlsStream",
    "TlsTransport",
    "VerifiedPeer",
    "generate_certificate",
    "tls",
    "verify_certificate",
    "verify_certificate_chain",
]
