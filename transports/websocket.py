"""WebSocket transport: ``/<ip4|ip6>/<host>/tcp/<port>/ws`` and TLS variants.

``/dns*`` hosts are resolved by the wrapping DNS transport (:func:`.dns.dns`), which keeps the
name of a secure address as ``/tls/sni/<name>``.

Secure addresses are ``/tcp/<port>/wss``, ``/tcp/<port>/tls/ws`` and
``/tcp/<port>/tls/sni/<name>/ws``. Listening on one needs ``WebSocketConfig.ssl_context``
(a server context holding the certificate); dialling one verifies the server with
``WebSocketConfig.client_ssl_context`` (default: the system's CAs, host name checked against
the ``sni`` name or the ``dns*`` host). Dials use ``GET /``, no subprotocol and no extension;
libp2p bytes travel in binary frames (see :mod:`.ws_stream`; the protocol is wsproto's).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, final

import trio

from p2pstack.abc.transport import RawConnection, TransportListener
from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError, ProtocolError, TransportError
from p2pstack.multiaddr import Multiaddr
from p2pstack.multiaddr.codec import Component
from p2pstack.transports.tcp import TcpConfig, adopt_tcp_stream, connect_tcp, sockaddr_to_multiaddr
from p2pstack.transports.ws_protocol import DEFAULT_MAX_HANDSHAKE_SIZE
from p2pstack.transports.ws_stream import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_READ_SIZE,
    DEFAULT_SEND_FRAME_SIZE,
    WebSocketStream,
    open_client_stream,
)

logger: Final = logging.getLogger("p2pstack.websocket")

_HOST_PROTOCOLS: Final = ("ip4", "ip6", "dns", "dns4", "dns6")


@dataclass(frozen=True, kw_only=True, slots=True)
class WebSocketConfig:
    """WebSocket options.

    ``tcp`` holds the TCP options (connect timeout, buffers, backlog).
    ``handshake_timeout`` bounds the TLS and HTTP upgrade of one connection (dial or accept);
    ``close_timeout`` bounds sending our Close frame in ``aclose``. ``ssl_context`` is the
    server context for ``/tls/ws`` and ``/wss`` listeners; ``client_ssl_context`` verifies
    servers we dial (None: ``ssl.create_default_context()``). ``read_size`` (default
    128 KiB) is how much one socket read by ``receive_some`` asks for (the receive buffer
    holds no more; ``receive_into`` reads as much as the caller's buffer holds).
    ``send_frame_size`` (default 1 MiB; js-libp2p accepts 100 MiB, py-libp2p 32 MiB) is the
    largest frame we send and ``max_frame_size`` (default 256 MiB) the largest frame we
    accept: a frame fails with close code 1009 once more of its payload has arrived (payload
    is streamed, so what came before that point may have been read already).
    ``max_handshake_size`` bounds the HTTP head of the upgrade request or response (a server
    answers 431 beyond it).
    """

    tcp: TcpConfig = field(default_factory=TcpConfig)
    handshake_timeout: float = 10.0
    close_timeout: float = 2.0
    ssl_context: ssl.SSLContext | None = None
    client_ssl_context: ssl.SSLContext | None = None
    read_size: int = DEFAULT_READ_SIZE
    send_frame_size: int = DEFAULT_SEND_FRAME_SIZE
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    max_handshake_size: int = DEFAULT_MAX_HANDSHAKE_SIZE

    def __post_init__(self) -> None:
        if self.handshake_timeout <= 0:
            raise InvalidConfigError("handshake_timeout must be positive")
        if self.close_timeout <= 0:
            raise InvalidConfigError("close_timeout must be positive")
        if self.read_size < 1024:
            raise InvalidConfigError("read_size must be at least 1024 bytes")
        if self.send_frame_size < 1:
            raise InvalidConfigError("send_frame_size must be positive")
        if self.max_frame_size < 1:
            raise InvalidConfigError("max_frame_size must be positive")
        if self.max_handshake_size < 1024:
            raise InvalidConfigError("max_handshake_size must be at least 1024 bytes")


def websocket(config: WebSocketConfig | None = None) -> WebSocketTransport:
    """Build a WebSocket transport."""
    return WebSocketTransport(config_arg(config, WebSocketConfig, "websocket(config)"))


@dataclass(frozen=True, slots=True)
class WsAddress:
    """A parsed WebSocket multiaddr (without ``/p2p``)."""

    host_proto: str
    host: str
    port: int
    tls: bool
    sni: str | None
    suffix: tuple[Component, ...]  # everything after /tcp/<port>: /ws, /wss, /tls/.../ws

    @property
    def server_name(self) -> str:
        """The name TLS verifies and the Host header carries (sni, else the host)."""
        return self.sni or self.host

    def host_header(self) -> str:
        name = self.server_name
        if self.sni is None and self.host_proto == "ip6":
            name = f"[{name}]"
        return f"{name}:{self.port}"


def parse_ws_address(addr: Multiaddr) -> WsAddress | None:
    """Split a WebSocket multiaddr, or return None when it is not one we handle."""
    parts = addr.without_peer_id().components()
    if len(parts) < 3 or parts[0].name not in _HOST_PROTOCOLS or parts[1].name != "tcp":
        return None
    suffix = parts[2:]
    names = [c.name for c in suffix]
    sni: str | None = None
    if names == ["ws"]:
        tls = False
    elif names in (["wss"], ["tls", "ws"]):
        tls = True
    elif names == ["tls", "sni", "ws"]:
        tls = True
        sni = suffix[1].value
    else:
        return None
    host, port = parts[0].value, parts[1].value
    assert host is not None
    assert port is not None
    return WsAddress(parts[0].name, host, int(port), tls, sni, tuple(suffix))


def _with_suffix(base: Multiaddr, suffix: Sequence[Component]) -> Multiaddr:
    return Multiaddr.from_components([*base.components(), *suffix])


@final
class WebSocketListener:
    """A WebSocket listener on one TCP port (TLS when the address asks for it)."""

    def __init__(
        self,
        listener: trio.SocketListener,
        address: WsAddress,
        config: WebSocketConfig,
    ) -> None:
        self._listener = listener
        self._address = address
        self._config = config
        bound = sockaddr_to_multiaddr(listener.socket.getsockname())
        self._addrs = [_with_suffix(bound, address.suffix)]

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        return list(self._addrs)

    async def accept(self) -> RawConnection:
        """The next inbound connection; its TLS and HTTP upgrade run on first use."""
        config = self._config
        while True:
            try:
                accepted = await self._listener.accept()
            except OSError as exc:  # e.g. ECONNABORTED, EMFILE: keep serving
                logger.warning("websocket accept failed on %s: %s", self._addrs[0], exc)
                await trio.lowlevel.checkpoint()
                continue
            tcp_stream = adopt_tcp_stream(accepted, config.tcp)
            try:
                remote = sockaddr_to_multiaddr(tcp_stream.socket.getpeername())
                local = sockaddr_to_multiaddr(tcp_stream.socket.getsockname())
            except OSError as exc:  # e.g. ENOTCONN: the peer reset before we looked
                logger.debug("websocket connection gone before accept: %s", exc)
                tcp_stream.socket.close()
                continue
            transport_stream: trio.abc.Stream = tcp_stream
            if self._address.tls:
                assert config.ssl_context is not None
                transport_stream = trio.SSLStream(
                    tcp_stream, config.ssl_context, server_side=True, https_compatible=True
                )
            stream = WebSocketStream(
                transport_stream,
                handshake_timeout=config.handshake_timeout,
                close_timeout=config.close_timeout,
                read_size=config.read_size,
                send_frame_size=config.send_frame_size,
                max_frame_size=config.max_frame_size,
                max_handshake_size=config.max_handshake_size,
            )
            suffix = self._address.suffix
            return RawConnection(stream, _with_suffix(local, suffix), _with_suffix(remote, suffix))

    async def aclose(self) -> None:
        await self._listener.aclose()


@final
class WebSocketTransport:
    """Dials and listens on WebSocket multiaddrs."""

    name = "websocket"

    def __init__(self, config: WebSocketConfig) -> None:
        self.config = config

    def can_dial(self, addr: Multiaddr) -> bool:
        parsed = parse_ws_address(addr)
        return parsed is not None and parsed.host_proto in ("ip4", "ip6")

    def can_listen(self, addr: Multiaddr) -> bool:
        parsed = parse_ws_address(addr)
        return parsed is not None and parsed.host_proto in ("ip4", "ip6")

    async def dial(self, addr: Multiaddr) -> RawConnection:
        """Connect to the numeric address, run TLS if asked, then the HTTP upgrade.

        Raises:
            TransportError: the address, the connection, TLS or the upgrade failed (with the
                cause chained).
        """
        parsed = parse_ws_address(addr)
        if parsed is None:
            raise TransportError(f"not a WebSocket address: {addr}")
        config = self.config
        tcp_stream = await connect_tcp(addr, config.tcp)
        remote = sockaddr_to_multiaddr(tcp_stream.socket.getpeername())
        local = sockaddr_to_multiaddr(tcp_stream.socket.getsockname())
        transport_stream: trio.abc.Stream = tcp_stream
        try:
            with trio.fail_after(config.handshake_timeout):
                if parsed.tls:
                    ssl_stream = trio.SSLStream(
                        tcp_stream,
                        config.client_ssl_context or ssl.create_default_context(),
                        server_hostname=parsed.server_name,
                        https_compatible=True,
                    )
                    transport_stream = ssl_stream
                    await ssl_stream.do_handshake()
                stream = await open_client_stream(
                    transport_stream,
                    host=parsed.host_header(),
                    max_handshake_size=config.max_handshake_size,
                    read_size=config.read_size,
                    send_frame_size=config.send_frame_size,
                    max_frame_size=config.max_frame_size,
                    close_timeout=config.close_timeout,
                )
        except BaseException as exc:
            await trio.aclose_forcefully(transport_stream)
            if isinstance(exc, trio.TooSlowError):
                raise TransportError(
                    f"WebSocket handshake with {addr} timed out after "
                    f"{config.handshake_timeout:g} s"
                ) from exc
            if isinstance(exc, (ProtocolError, trio.BrokenResourceError, OSError)):
                detail = exc.__cause__ if isinstance(exc, trio.BrokenResourceError) else exc
                raise TransportError(
                    f"WebSocket handshake with {addr} failed: {detail or type(exc).__name__}"
                ) from exc
            raise
        return RawConnection(
            stream, _with_suffix(local, parsed.suffix), _with_suffix(remote, parsed.suffix)
        )

    async def listen(self, addr: Multiaddr) -> TransportListener:
        parsed = parse_ws_address(addr)
        if parsed is None or parsed.host_proto not in ("ip4", "ip6"):
            raise TransportError(f"cannot listen on {addr}: not an /ip4 or /ip6 WebSocket address")
        if parsed.tls and self.config.ssl_context is None:
            raise TransportError(
                f"cannot listen on {addr}: WebSocketConfig.ssl_context (a certificate) is needed"
            )
        try:
            listeners = await trio.open_tcp_listeners(
                parsed.port, host=parsed.host, backlog=self.config.tcp.backlog
            )
        except OSError as exc:
            raise TransportError(f"cannot listen on {addr}: {exc}") from exc
        return WebSocketListener(listeners[0], parsed, self.config)
