"""The QUIC v1 transport: ``/ip4|ip6/<addr>/udp/<port>/quic-v1``.

A QUIC connection comes secured (TLS 1.3 with the libp2p certificate, ALPN ``libp2p``) and
multiplexed (QUIC streams): the transport hands the node a
:class:`~p2pstack.abc.transport.RawConnection` whose ``secured_muxed`` the upgrader uses
instead of Noise and Yamux.
"""

from __future__ import annotations

import ssl
from typing import Final, Protocol, final

import trio
from aioquic.quic.configuration import QuicConfiguration

from p2pstack.abc.transport import RawConnection, TransportListener
from p2pstack.arguments import config_arg
from p2pstack.errors import TransportError
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.security.tls.certificate import LocalCertificate, generate_certificate
from p2pstack.transports.quic.config import QuicConfig
from p2pstack.transports.quic.endpoint import QuicListener, dial_quic
from p2pstack.transports.quic.udp import UdpSocket

ALPN: Final = "libp2p"


class HasIdentity(Protocol):
    """The part of the node the transport needs: its identity (for the certificate)."""

    @property
    def identity(self) -> Identity: ...


def _host_port(addr: Multiaddr) -> tuple[str, int] | None:
    """``(host, port)`` of ``/ip4|ip6/<host>/udp/<port>/quic-v1[/p2p/<id>]``, else None."""
    parts = addr.without_peer_id().components()
    if (
        len(parts) != 3
        or parts[0].name not in ("ip4", "ip6")
        or parts[1].name != "udp"
        or parts[2].name != "quic-v1"
    ):
        return None
    host, port = parts[0].value, parts[1].value
    assert host is not None
    assert port is not None
    return host, int(port)


def is_quic_addr(addr: Multiaddr) -> bool:
    """Whether ``addr`` is a QUIC v1 address (``/udp/N/quic-v1``)."""
    return _host_port(addr) is not None


@final
class QuicTransport:
    """Dials and listens on QUIC v1 multiaddrs; needs the node's identity (given to
    :func:`quic`, or by the node through :meth:`attach`)."""

    name = "quic-v1"

    def __init__(self, config: QuicConfig, identity: Identity | None = None) -> None:
        self.config = config
        self._identity: Identity | None = None
        self._certificate: LocalCertificate | None = None
        if identity is not None:
            self._use(identity)

    def attach(self, context: HasIdentity) -> None:
        """Take the node's identity (called once by the node)."""
        self._use(context.identity)

    def _use(self, identity: Identity) -> None:
        self._identity = identity
        self._certificate = generate_certificate(identity)

    def _configuration(self, *, is_client: bool) -> QuicConfiguration:
        if self._certificate is None:
            raise TransportError("the QUIC transport has no identity: use it in a node")
        config = self.config
        return QuicConfiguration(
            is_client=is_client,
            alpn_protocols=[ALPN],
            certificate=self._certificate.certificate,
            private_key=self._certificate.private_key,
            verify_mode=ssl.CERT_NONE,  # the libp2p extension is checked instead
            idle_timeout=config.idle_timeout,
            max_data=config.connection_window,
            max_stream_data=config.stream_window,
            max_datagram_size=config.max_datagram_size,
        )

    def client_configuration(self) -> QuicConfiguration:
        """aioquic's client configuration of this transport (TLS with our certificate)."""
        return self._configuration(is_client=True)

    @property
    def _peer(self) -> Identity:
        if self._identity is None:
            raise TransportError("the QUIC transport has no identity: use it in a node")
        return self._identity

    def can_dial(self, addr: Multiaddr) -> bool:
        return _host_port(addr) is not None

    def can_listen(self, addr: Multiaddr) -> bool:
        return addr.peer_id() is None and _host_port(addr) is not None

    async def dial(self, addr: Multiaddr) -> RawConnection:
        parsed = _host_port(addr)
        if parsed is None:
            raise TransportError(f"not a QUIC v1 address: {addr}")
        configuration = self._configuration(is_client=True)
        try:
            return await dial_quic(*parsed, self.config, configuration, self._peer.peer_id)
        except OSError as exc:
            raise TransportError(f"QUIC dial to {addr} failed: {exc}") from exc

    async def listen(self, addr: Multiaddr) -> TransportListener:
        parsed = _host_port(addr)
        if parsed is None:
            raise TransportError(f"cannot listen on {addr}: not a QUIC v1 address")
        peer = self._peer.peer_id
        self._configuration(is_client=False)  # fails early without an identity
        try:
            sock = UdpSocket.bind(*parsed)
        except OSError as exc:
            raise TransportError(f"cannot listen on {addr}: {exc}") from exc
        await trio.lowlevel.checkpoint()
        return QuicListener(sock, self.config, lambda: self._configuration(is_client=False), peer)


def quic(config: QuicConfig | None = None, *, identity: Identity | None = None) -> QuicTransport:
    """Build a QUIC v1 transport (a node gives it its identity when it has none)."""
    return QuicTransport(config_arg(config, QuicConfig, "quic(config)"), identity)
