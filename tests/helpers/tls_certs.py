"""Hand-built libp2p TLS certificates (good and bad ones) and a TLS client that presents them.

For the TLS attack and unit tests: the client speaks TLS 1.3 over a trio stream with any
certificate chain, so a listener's refusals can be exercised.
"""

from __future__ import annotations

import datetime

import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from OpenSSL import SSL

from p2pstack.identity.identity import Identity
from p2pstack.security.tls import EXTENSION_OID, SIGNATURE_PREFIX
from p2pstack.security.tls.signed_key import encode_signed_key

DAY = datetime.timedelta(days=1)


def spki_of(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def build_certificate(
    identity: Identity | None,
    key: ec.EllipticCurvePrivateKey,
    *,
    sign_spki_of: ec.EllipticCurvePrivateKey | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> x509.Certificate:
    """A self-signed certificate on ``key``; with the libp2p extension of ``identity`` (none
    when None) whose signature covers ``sign_spki_of``'s key (default ``key``: valid)."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - DAY)
        .not_valid_after(not_after or now + DAY)
    )
    if identity is not None:
        spki = spki_of(sign_spki_of or key)
        value = encode_signed_key(
            identity.public_key.to_protobuf(), identity.sign(SIGNATURE_PREFIX + spki)
        )
        builder = builder.add_extension(
            x509.UnrecognizedExtension(EXTENSION_OID, value), critical=True
        )
    return builder.sign(key, hashes.SHA256())


async def present_chain(
    stream: trio.abc.Stream,
    chain: list[x509.Certificate],
    key: ec.EllipticCurvePrivateKey,
    *,
    alpn: list[bytes] | None = None,
    tls12: bool = False,
) -> bool:
    """Run a TLS 1.3 client handshake over ``stream`` presenting ``chain`` (leaf first);
    return whether the server then accepted application data (False once it closed).

    ``alpn``: the protocols offered (default ``libp2p``); ``tls12``: offer TLS 1.2 only.
    """
    ctx = SSL.Context(SSL.TLS_METHOD)
    if tls12:
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    else:
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
    ctx.use_certificate(chain[0])
    ctx.use_privatekey(key)
    for extra in chain[1:]:
        ctx.add_extra_chain_cert(extra)
    ctx.set_verify(SSL.VERIFY_PEER, lambda *_: True)
    ctx.set_alpn_protos(alpn or [b"libp2p"])
    conn = SSL.Connection(ctx, None)
    conn.set_connect_state()

    async def flush() -> None:
        out = b""
        while True:
            try:
                out += conn.bio_read(65536)
            except SSL.WantReadError:
                break
        if out:
            await stream.send_all(out)

    try:
        while True:
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                await flush()
                data = await stream.receive_some(65536)
                if not data:
                    return False
                conn.bio_write(data)
        await flush()
        conn.sendall(b"hello")
        await flush()
        while True:
            data = await stream.receive_some(65536)
            if not data:
                return False
            conn.bio_write(data)
            try:
                return bool(conn.recv(65536))
            except SSL.WantReadError:
                continue
    except (SSL.Error, trio.BrokenResourceError, trio.ClosedResourceError):
        return False
