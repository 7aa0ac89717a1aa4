"""Structure-aware inputs for the TLS targets: mutated real certificates, and validly
self-signed certificates (past the signature check) carrying hostile SignedKey values."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings, strategies as st

from p2pstack.security.tls import EXTENSION_OID
from p2pstack.security.tls.signed_key import encode_signed_key
from tests.unit.security import tls_vectors as vec

from .registry import TARGETS
from .targets_tls import NOW

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
KEY = ec.generate_private_key(ec.SECP256R1())
CERTS = [vec.ED25519_CERT, vec.ECDSA_CERT, vec.SECP256K1_CERT, vec.INVALID_CERT]


@SETTINGS
@given(
    cert=st.sampled_from(CERTS),
    edits=st.lists(st.tuples(st.integers(0, 600), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_certificates(cert: bytes, edits: list[tuple[int, int]]) -> None:
    data = bytearray(cert)
    for pos, value in edits:
        data[pos % len(data)] = value
    TARGETS["tls_certificate"](bytes(data))


def _self_signed(extension_value: bytes) -> bytes:
    name = x509.Name([])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.UnrecognizedExtension(EXTENSION_OID, extension_value), critical=True)
        .sign(KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@SETTINGS
@given(
    value=st.one_of(
        st.binary(max_size=300),
        st.builds(encode_signed_key, st.binary(max_size=120), st.binary(max_size=120)),
        st.builds(
            encode_signed_key,
            st.sampled_from([b"\x08\x01\x12\x20" + bytes(32), b"\x08\x03\x12\x05abcde", b""]),
            st.binary(max_size=80),
        ),
    )
)
def test_self_signed_certificates_with_hostile_signed_keys(value: bytes) -> None:
    TARGETS["tls_certificate"](_self_signed(value))
    TARGETS["tls_signed_key"](value)
