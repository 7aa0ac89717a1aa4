"""Shared helpers for the transport tests: self-signed certificates and WebSocket pairs."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import trio
import trio.testing
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.websocket import WebSocketConfig, WebSocketTransport, websocket
from p2pstack.transports.ws_stream import WebSocketStream, open_client_stream


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for ``localhost`` and 127.0.0.1 / ::1, written to files."""

    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_file))


def make_certificate(directory: Path, name: str = "localhost") -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(name),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / f"{name}.crt"
    key_file = directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file, key_file)


async def ws_socket_pair(
    transport: WebSocketTransport | None = None, listen: str = "/ip4/127.0.0.1/tcp/0/ws"
) -> tuple[WebSocketStream, WebSocketStream]:
    """A connected (client, server) pair over real sockets, handshakes done."""
    transport = transport or websocket()
    listener = await transport.listen(Multiaddr(listen))
    try:
        server: list[WebSocketStream] = []

        async def accept() -> None:
            raw = await listener.accept()
            assert isinstance(raw.stream, WebSocketStream)
            await raw.stream.do_handshake()
            server.append(raw.stream)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept)
            raw = await transport.dial(listener.listen_addrs[0])
        assert isinstance(raw.stream, WebSocketStream)
        return raw.stream, server[0]
    finally:
        await listener.aclose()


async def ws_lockstep_pair(
    close_timeout: float = 0.2,
) -> tuple[WebSocketStream, WebSocketStream]:
    """A (client, server) pair over ``lockstep_stream_pair``: every send blocks until read."""
    left, right = trio.testing.lockstep_stream_pair()
    server = WebSocketStream(right, close_timeout=close_timeout)
    clients: list[WebSocketStream] = []

    async def client() -> None:
        clients.append(await open_client_stream(left, host="test", close_timeout=close_timeout))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(client)
        await server.do_handshake()
    return clients[0], server


def tls_transport(cert: Certificate, **options: object) -> WebSocketTransport:
    config = WebSocketConfig(
        ssl_context=cert.server_context(),
        client_ssl_context=cert.client_context(),
        **options,  # type: ignore[arg-type]
    )
    return websocket(config)
