"""libp2p TLS certificates: the spec's vectors, our round trip per key type, refusals."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from p2pstack.errors import DecodeError, ProtocolError
from p2pstack.identity.identity import Identity
from p2pstack.identity.keys import KeyType
from p2pstack.identity.peer_id import PeerId
from p2pstack.security.tls import (
    EXTENSION_OID,
    SIGNATURE_PREFIX,
    CertificateDecodeError,
    CertificateError,
    generate_certificate,
    verify_certificate,
    verify_certificate_chain,
)
from p2pstack.security.tls.signed_key import decode_signed_key, encode_signed_key
from tests.unit.security import tls_vectors as vec

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("cert", "peer"),
    [
        (vec.ED25519_CERT, vec.ED25519_PEER),
        (vec.ECDSA_CERT, vec.ECDSA_PEER),
        (vec.SECP256K1_CERT, vec.SECP256K1_PEER),
    ],
)
def test_spec_vectors_verify(cert: bytes, peer: str) -> None:
    result = verify_certificate_chain([cert], now=NOW)
    assert result.peer_id == PeerId.from_string(peer)
    assert result.public_key.to_peer_id() == result.peer_id


def test_spec_invalid_vector_is_refused() -> None:
    with pytest.raises(CertificateError, match="signature"):
        verify_certificate_chain([vec.INVALID_CERT], now=NOW)


@pytest.mark.parametrize("key_type", list(KeyType))
def test_round_trip_every_key_type(key_type: KeyType) -> None:
    identity = Identity.generate(key_type)
    local = generate_certificate(identity, now=NOW)
    assert verify_certificate(local.certificate_der, now=NOW).peer_id == identity.peer_id
    assert verify_certificate(local.certificate, now=NOW).public_key == identity.public_key
    ext = local.certificate.extensions.get_extension_for_oid(EXTENSION_OID)
    assert ext.critical
    assert isinstance(local.certificate.public_key(), ec.EllipticCurvePublicKey)
    key = serialization.load_der_private_key(local.private_key_der, None)
    assert key.public_key() == local.certificate.public_key()


def test_validity_window() -> None:
    local = generate_certificate(Identity.generate(), now=NOW)
    verify_certificate(local.certificate_der, now=NOW - datetime.timedelta(minutes=59))
    with pytest.raises(CertificateError, match="not valid before"):
        verify_certificate(local.certificate_der, now=NOW - datetime.timedelta(hours=2))
    with pytest.raises(CertificateError, match="expired"):
        verify_certificate(local.certificate_der, now=NOW + datetime.timedelta(days=365 * 101))
    verify_certificate(local.certificate_der, now=NOW.timestamp() + 3600)


def test_chain_must_hold_exactly_one_certificate() -> None:
    der = generate_certificate(Identity.generate(), now=NOW).certificate_der
    for chain in ([], [der, der]):
        with pytest.raises(CertificateError, match="exactly one"):
            verify_certificate_chain(chain, now=NOW)


def _build(
    *,
    signed_key: bytes | None,
    critical: bool = True,
    extra: x509.ExtensionType | None = None,
    extra_critical: bool = False,
    signer: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=1))
    )
    if signed_key is not None:
        ext = x509.UnrecognizedExtension(EXTENSION_OID, signed_key)
        builder = builder.add_extension(ext, critical=critical)
    if extra is not None:
        builder = builder.add_extension(extra, critical=extra_critical)
    cert = builder.sign(signer or key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


def _signed_key_for(identity: Identity, cert_key_spki: bytes) -> bytes:
    return encode_signed_key(
        identity.public_key.to_protobuf(), identity.sign(SIGNATURE_PREFIX + cert_key_spki)
    )


def test_missing_extension_is_refused() -> None:
    with pytest.raises(CertificateError, match="lacks"):
        verify_certificate(_build(signed_key=None), now=NOW)


def test_signature_over_another_key_is_refused() -> None:
    identity = Identity.generate()
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = other.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for critical in (True, False):
        cert = _build(signed_key=_signed_key_for(identity, spki), critical=critical)
        with pytest.raises(CertificateError, match="signature does not verify"):
            verify_certificate(cert, now=NOW)


def test_bad_self_signature_is_refused() -> None:
    cert = _build(signed_key=b"\x30\x00", signer=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(CertificateError, match="self-signature"):
        verify_certificate(cert, now=NOW)


def test_unknown_critical_extension_is_refused() -> None:
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
    cert = _build(signed_key=b"\x30\x00", extra=odd, extra_critical=True)
    with pytest.raises(CertificateError, match="unknown critical"):
        verify_certificate(cert, now=NOW)


@pytest.mark.parametrize(
    "value",
    [b"", b"\x30\x00", b"\x30\x02\x04\x00", b"\x04\x00\x04\x00", b"\x30\x04\x04\x00\x04\x00\x00"],
)
def test_malformed_signed_key_is_a_decode_error(value: bytes) -> None:
    with pytest.raises(CertificateDecodeError):
        verify_certificate(_build(signed_key=value), now=NOW)


def test_garbage_certificate_is_a_decode_error() -> None:
    for data in (b"", b"\x30\x03\x02\x01\x01", vec.ED25519_CERT[:-3]):
        with pytest.raises(CertificateDecodeError) as info:
            verify_certificate(data, now=NOW)
        assert isinstance(info.value, DecodeError)
        assert isinstance(info.value, ProtocolError)


def test_signed_key_codec() -> None:
    long_key, sig = bytes(range(256)) * 2, b"\x01" * 130
    assert decode_signed_key(encode_signed_key(long_key, sig)) == (long_key, sig)
    assert decode_signed_key(encode_signed_key(b"", b"")) == (b"", b"")
    for bad in (
        b"\x30\x81\x04\x04\x00\x04\x00",  # non-minimal long length
        b"\x30\x80\x04\x00\x04\x00",  # indefinite length
        b"\x30\x06\x04\x00\x04\x00\x04\x00",  # a third field
        b"\x30\x04\x04\x05\x04\x00",  # overrun
    ):
        with pytest.raises(CertificateDecodeError):
            decode_signed_key(bad)
