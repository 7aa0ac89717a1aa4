"""TCP transport: ``/ip4|ip6/<addr>/tcp/<port>``.

Names (``/dns*``, ``/dnsaddr``) are resolved by the wrapping DNS transport
(:func:`p2pstack.transports.dns.dns`), which hands this transport the concrete addresses.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final, final

import trio

from p2pstack.abc.transport import RawConnection, TransportListener
from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError, TransportError
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.tcp_stream import TcpStream, set_liveness_options

logger: Final = logging.getLogger("p2pstack.tcp")

_HOST_PROTOCOLS: Final = ("ip4", "ip6")
_NO_PORT_REUSE: ContextVar[bool] = ContextVar("p2pstack_tcp_no_port_reuse", default=False)


@contextmanager
def ephemeral_port_dials() -> Iterator[None]:
    """Within this block (and in the tasks it starts), TCP dials leave from an ephemeral
    port even with ``TcpConfig(reuse_port=True)``. For dials that must not look like our
    listening port's traffic: an AutoNAT server's dial-back (a requester's NAT that saw our
    listening port would let a dial from it in and fake a "reachable" verdict)."""
    token = _NO_PORT_REUSE.set(True)
    try:
        yield
    finally:
        _NO_PORT_REUSE.reset(token)


@dataclass(frozen=True, kw_only=True, slots=True)
class TcpConfig:
    """TCP options. Buffer sizes of ``None`` keep the kernel's defaults.

    ``connect_timeout`` bounds one dial. (How names are resolved is the DNS transport's
    configuration: :class:`p2pstack.transports.dns.DnsConfig`.)

    Dead-peer detection by the kernel, on every dialled and accepted socket (a backstop
    below the muxer's keepalive, which detects a silent peer within 20 s by default):

    - ``keepalive_idle`` (15 s; None disables ``SO_KEEPALIVE``): an idle connection is
      probed after this many seconds, ``keepalive_count`` (3) probes ``keepalive_interval``
      (5 s) apart; unanswered, the socket fails after about 15 + 3 x 5 = 30 s.
    - ``user_timeout`` (30 s; None keeps the kernel's default of many minutes):
      ``TCP_USER_TIMEOUT``, data we sent that stays unacknowledged this long fails the socket
      (also while our writes are blocked on a vanished peer). Keep it at least
      ``keepalive_idle + keepalive_interval * keepalive_count`` (the defaults do) so the
      probes are not cut short.

    A socket failed this way makes its reads and writes raise ``trio.BrokenResourceError``.

    ``reuse_port`` (False): listening sockets get ``SO_REUSEPORT`` and every dial leaves from
    the listening port (bound with ``SO_REUSEADDR``/``SO_REUSEPORT`` to the listener's address
    when it is the wildcard, or loopback for a loopback destination), as go-libp2p dials. A
    NAT that keeps ports then maps the listening port to one public port for every
    destination: the address peers observe is the one to hole-punch (DCUtR), and two such
    dials meeting in flight are one TCP simultaneous open. When the port cannot be used
    (that 4-tuple is taken, no listener of the family) the dial falls back to an ephemeral
    port; dials made inside :func:`ephemeral_port_dials` always use one.
    """

    connect_timeout: float = 10.0
    socket_buffer_size: int | None = None
    backlog: int | None = None
    keepalive_idle: int | None = 15
    keepalive_interval: int = 5
    keepalive_count: int = 3
    user_timeout: float | None = 30.0
    reuse_port: bool = False

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0:
            raise InvalidConfigError("connect_timeout must be positive")
        if self.socket_buffer_size is not None and self.socket_buffer_size < 4096:
            raise InvalidConfigError("socket_buffer_size must be at least 4096 bytes")
        if self.keepalive_idle is not None:
            _check_int("keepalive_idle", self.keepalive_idle, 1, 32767)
        _check_int("keepalive_interval", self.keepalive_interval, 1, 32767)
        _check_int("keepalive_count", self.keepalive_count, 1, 127)
        if self.user_timeout is not None and (
            isinstance(self.user_timeout, bool)
            or not isinstance(self.user_timeout, int | float)
            or not 0.001 <= self.user_timeout <= 2**31 / 1000
        ):
            raise InvalidConfigError(
                f"user_timeout must be None or a number of seconds >= 0.001, "
                f"not {self.user_timeout!r}"
            )


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidConfigError(f"TcpConfig.{name} must be an int in [{low}, {high}]")


def tcp(config: TcpConfig | None = None) -> TcpTransport:
    """Build a TCP transport."""
    return TcpTransport(config_arg(config, TcpConfig, "tcp(config)"))


def _host_port(addr: Multiaddr) -> tuple[str, str, int] | None:
    """Split ``/<host proto>/<host>/tcp/<port>[/p2p/<id>]`` into (proto, host, port)."""
    parts = addr.without_peer_id().components()
    if len(parts) != 2 or parts[0].name not in _HOST_PROTOCOLS or parts[1].name != "tcp":
        return None
    host, port = parts[0].value, parts[1].value
    assert host is not None
    assert port is not None
    return parts[0].name, host, int(port)


def sockaddr_to_multiaddr(sockaddr: tuple[object, ...]) -> Multiaddr:
    """Convert a socket address tuple to ``/ip4|ip6/<host>/tcp/<port>``."""
    host, port = str(sockaddr[0]), int(str(sockaddr[1]))
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    return Multiaddr(f"/ip{ip.version}/{ip}/tcp/{port}")


def adopt_tcp_stream(stream: trio.SocketStream, config: TcpConfig) -> TcpStream:
    """Take over a connected trio socket stream as a :class:`TcpStream`, tuned by ``config``."""
    return _tuned(TcpStream.from_trio(stream), config)


def _tuned(stream: TcpStream, config: TcpConfig) -> TcpStream:
    if config.socket_buffer_size is not None:
        for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            stream.socket.setsockopt(socket.SOL_SOCKET, opt, config.socket_buffer_size)
    set_liveness_options(
        stream.socket,
        keepalive_idle=config.keepalive_idle,
        keepalive_interval=config.keepalive_interval,
        keepalive_count=config.keepalive_count,
        user_timeout=config.user_timeout,
    )
    return stream


_REUSE_FALLBACK_ERRNOS: Final = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL})


async def _connect(host: str, port: int, bind: tuple[str, int] | None = None) -> TcpStream:
    """Connect to a numeric ``host`` (already resolved: no resolver thread, no racing), from
    ``bind`` (with ``SO_REUSEADDR``/``SO_REUSEPORT``) when given; a ``bind`` whose 4-tuple is
    taken falls back to an ephemeral port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = trio.socket.socket(family, socket.SOCK_STREAM)
    try:
        if bind is not None:
            _set_reuse(sock)
            await sock.bind(bind)
        await sock.connect((host, port))
    except OSError as exc:
        sock.close()
        if bind is None or exc.errno not in _REUSE_FALLBACK_ERRNOS:
            raise
        logger.debug("cannot dial %s:%d from %s:%d (%s): ephemeral port", host, port, *bind, exc)
        return await _connect(host, port)
    except BaseException:
        sock.close()
        raise
    return TcpStream(socket.socket(family, socket.SOCK_STREAM, fileno=sock.detach()))


def _set_reuse(sock: trio.socket.SocketType) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)


async def connect_tcp(
    addr: Multiaddr, config: TcpConfig, *, bind: tuple[str, int] | None = None
) -> TcpStream:
    """Connect to ``/<ip4|ip6>/<host>/tcp/<port>/...`` (anything may follow ``/tcp/N``) within
    ``config.connect_timeout``, from local address ``bind`` when given (see
    ``TcpConfig.reuse_port``).

    Raises:
        TransportError: not a numeric TCP address (names are the DNS transport's job), the
            connection failed or the time ran out (the cause is chained).
    """
    parts = addr.without_peer_id().components()
    if len(parts) < 2 or parts[0].name not in _HOST_PROTOCOLS or parts[1].name != "tcp":
        raise TransportError(f"not an /ip4 or /ip6 TCP address: {addr}")
    host, port = parts[0].value, parts[1].value
    assert host is not None
    assert port is not None
    try:
        with trio.fail_after(config.connect_timeout):
            stream = await _connect(host, int(port), bind)
    except trio.TooSlowError as exc:
        raise TransportError(
            f"TCP connect to {addr} failed: timed out after {config.connect_timeout:g} s"
        ) from exc
    except OSError as exc:
        raise TransportError(f"TCP connect to {addr} failed: {exc}") from exc
    return _tuned(stream, config)


@final
class TcpListener:
    """A TCP listener bound to one address."""

    def __init__(
        self,
        listener: trio.SocketListener,
        config: TcpConfig,
        *,
        on_close: Callable[[tuple[object, ...]], None] | None = None,
    ) -> None:
        self._listener = listener
        self._config = config
        self._sockname = tuple(listener.socket.getsockname())
        self._on_close = on_close
        self._addrs = [sockaddr_to_multiaddr(self._sockname)]

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        return list(self._addrs)

    async def accept(self) -> RawConnection:
        while True:
            try:
                stream = await self._listener.accept()
            except OSError as exc:  # e.g. ECONNABORTED, EMFILE: keep serving
                logger.warning("tcp accept failed on %s: %s", self._addrs[0], exc)
                await trio.lowlevel.checkpoint()
                continue
            tcp = adopt_tcp_stream(stream, self._config)
            try:
                remote = sockaddr_to_multiaddr(tcp.socket.getpeername())
                local = sockaddr_to_multiaddr(tcp.socket.getsockname())
            except OSError as exc:  # e.g. ENOTCONN: the peer reset before we looked
                logger.debug("tcp connection on %s gone before accept: %s", self._addrs[0], exc)
                tcp.socket.close()
                continue
            return RawConnection(tcp, local, remote)

    async def aclose(self) -> None:
        if self._on_close is not None:
            self._on_close(self._sockname)
            self._on_close = None
        await self._listener.aclose()


@final
class TcpTransport:
    """Dials and listens on TCP multiaddrs."""

    name = "tcp"

    def __init__(self, config: TcpConfig) -> None:
        self.config = config
        self._bound: list[tuple[int, str, int]] = []
        """(family, host, port) of each listener opened with ``reuse_port``."""

    def _dial_from(self, host: str) -> tuple[str, int] | None:
        """The local address a ``reuse_port`` dial to ``host`` leaves from, if any."""
        if not self.config.reuse_port or _NO_PORT_REUSE.get():
            return None
        dest = ipaddress.ip_address(host.split("%", 1)[0])
        family = socket.AF_INET6 if dest.version == 6 else socket.AF_INET
        for bound_family, bound_host, port in self._bound:
            if bound_family != family:
                continue
            local = ipaddress.ip_address(bound_host.split("%", 1)[0])
            if local.is_unspecified or (local.is_loopback and dest.is_loopback):
                return bound_host, port
        return None

    def can_dial(self, addr: Multiaddr) -> bool:
        return _host_port(addr) is not None

    def can_listen(self, addr: Multiaddr) -> bool:
        parsed = _host_port(addr)
        return parsed is not None and parsed[0] in ("ip4", "ip6")

    async def dial(self, addr: Multiaddr) -> RawConnection:
        parsed = _host_port(addr)
        if parsed is None:
            raise TransportError(f"not a TCP address: {addr}")
        stream = await connect_tcp(addr, self.config, bind=self._dial_from(parsed[1]))
        remote = sockaddr_to_multiaddr(stream.socket.getpeername())
        local = sockaddr_to_multiaddr(stream.socket.getsockname())
        return RawConnection(stream, local, remote)

    async def listen(self, addr: Multiaddr) -> TransportListener:
        parsed = _host_port(addr)
        if parsed is None or parsed[0] not in ("ip4", "ip6"):
            raise TransportError(f"cannot listen on {addr}: not an /ip4 or /ip6 TCP address")
        _, host, port = parsed
        try:
            if self.config.reuse_port:
                listener = await self._reuse_port_listener(host, port)
            else:
                listeners: Sequence[trio.SocketListener] = await trio.open_tcp_listeners(
                    port, host=host, backlog=self.config.backlog
                )
                listener = listeners[0]
        except OSError as exc:
            raise TransportError(f"cannot listen on {addr}: {exc}") from exc
        return TcpListener(listener, self.config, on_close=self._forget)

    async def _reuse_port_listener(self, host: str, port: int) -> trio.SocketListener:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = trio.socket.socket(family, socket.SOCK_STREAM)
        try:
            _set_reuse(sock)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            await sock.bind((host, port))
            sock.listen(self.config.backlog or 0xFFFF)
        except BaseException:
            sock.close()
            raise
        bound = sock.getsockname()
        self._bound.append((family, str(bound[0]), int(bound[1])))
        return trio.SocketListener(sock)

    def _forget(self, sockname: tuple[object, ...]) -> None:
        self._bound = [b for b in self._bound if (b[1], b[2]) != (sockname[0], sockname[1])]
