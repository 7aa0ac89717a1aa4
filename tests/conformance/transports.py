"""The transports the transport suite runs over, each built by one factory.

A factory is an async context manager yielding a :class:`TransportUnderTest`: a dialling and a
listening transport, the address to listen on, an address nothing listens on, and what the
implementation supports (half-close, a way to fill both directions for trio's clogged checks).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import trio

from p2pstack.abc.transport import Transport, TransportListener
from p2pstack.compose import open_node
from p2pstack.identity import Identity, PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping
from p2pstack.protocols.relay import CircuitRelayTransport, RelayConfig, circuit_relay, relay_server
from p2pstack.transports.memory import MemoryNetwork, memory
from p2pstack.transports.tcp import tcp
from p2pstack.transports.tcp_stream import TcpStream
from p2pstack.transports.websocket import websocket
from p2pstack.transports.ws_stream import WebSocketStream
from tests.helpers.websocket import make_certificate, tls_transport

StreamHook = Callable[[trio.abc.Stream], Awaitable[None]]
Clog = Callable[[trio.abc.Stream, trio.abc.Stream], Awaitable[None]]


async def _nothing(stream: trio.abc.Stream) -> None:
    await trio.lowlevel.checkpoint()


@dataclass
class TransportUnderTest:
    """One implementation, ready to listen and dial."""

    dialer: Transport
    listener: Transport
    listen_addr: Multiaddr
    unreachable: Multiaddr
    """Dialling it fails (nothing listens there)."""
    target: PeerId | None = None
    """Appended as ``/p2p/<id>`` to a listen address to dial it (relay circuits)."""
    half_closeable: bool = True
    accepted: StreamHook = _nothing
    """Run on an accepted stream before use (WebSocket: the server's HTTP upgrade)."""
    clog: Clog | None = None
    """Fill both directions of a fresh pair so that sends block (trio's clogged checks)."""

    def dial_addr(self, listener: TransportListener) -> Multiaddr:
        addr = listener.listen_addrs[0]
        return addr if self.target is None else addr.encapsulate(f"/p2p/{self.target}")


def _closed_port() -> int:
    """A 127.0.0.1 TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def _clog_tcp(left: trio.abc.Stream, right: trio.abc.Stream) -> None:
    """Shrink the socket buffers and fill them until the kernel takes no more."""
    streams = [left, right]
    sockets = [s.socket for s in streams if isinstance(s, TcpStream)]
    assert len(sockets) == 2
    for sock in sockets:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    for _ in range(3):  # the kernel keeps moving data on for a moment: fill until it stops
        await trio.sleep(0.02)
        for sock in sockets:
            while True:
                try:
                    sock.send(bytes(65536))
                except BlockingIOError:
                    break


async def _ws_handshake(stream: trio.abc.Stream) -> None:
    assert isinstance(stream, WebSocketStream)
    await stream.do_handshake()


@asynccontextmanager
async def tcp_transport(tmp: Path) -> AsyncIterator[TransportUnderTest]:
    yield TransportUnderTest(
        dialer=tcp(),
        listener=tcp(),
        listen_addr=Multiaddr("/ip4/127.0.0.1/tcp/0"),
        unreachable=Multiaddr(f"/ip4/127.0.0.1/tcp/{_closed_port()}"),
        clog=_clog_tcp,
    )


@asynccontextmanager
async def websocket_transport(tmp: Path) -> AsyncIterator[TransportUnderTest]:
    yield TransportUnderTest(
        dialer=websocket(),
        listener=websocket(),
        listen_addr=Multiaddr("/ip4/127.0.0.1/tcp/0/ws"),
        unreachable=Multiaddr(f"/ip4/127.0.0.1/tcp/{_closed_port()}/ws"),
        accepted=_ws_handshake,
    )


@asynccontextmanager
async def secure_websocket_transport(tmp: Path) -> AsyncIterator[TransportUnderTest]:
    transport = tls_transport(make_certificate(tmp))
    yield TransportUnderTest(
        dialer=transport,
        listener=transport,
        listen_addr=Multiaddr("/ip4/127.0.0.1/tcp/0/tls/ws"),
        unreachable=Multiaddr(f"/ip4/127.0.0.1/tcp/{_closed_port()}/tls/ws"),
        accepted=_ws_handshake,
    )


@asynccontextmanager
async def memory_transport(tmp: Path) -> AsyncIterator[TransportUnderTest]:
    network = MemoryNetwork()
    yield TransportUnderTest(
        dialer=memory(network),
        listener=memory(network),
        listen_addr=Multiaddr("/memory/0"),
        unreachable=Multiaddr("/memory/999999"),
    )


def _relay_transport(transports: list[Transport]) -> CircuitRelayTransport:
    return next(t for t in transports if isinstance(t, CircuitRelayTransport))


@asynccontextmanager
async def relay_circuit_transport(tmp: Path) -> AsyncIterator[TransportUnderTest]:
    """Raw circuits through a relay node (no limits, room for many circuits per peer)."""
    network = MemoryNetwork()
    config = dataclasses.replace(RelayConfig.bulk(), max_circuits_per_peer=256)
    listener_side: list[Transport] = [memory(network), circuit_relay()]
    dialer_side: list[Transport] = [memory(network), circuit_relay()]
    async with (
        open_node(
            transports=[memory(network)],
            listen=["/memory/0"],
            protocols=[ping(), identify(), relay_server(config)],
        ) as relay,
        open_node(transports=listener_side, protocols=[ping(), identify()]) as listening,
        open_node(transports=dialer_side, protocols=[ping(), identify()]),
    ):
        nobody = Identity.generate().peer_id
        yield TransportUnderTest(
            dialer=_relay_transport(dialer_side),
            listener=_relay_transport(listener_side),
            listen_addr=Multiaddr(f"{relay.addrs[0]}/p2p-circuit"),
            unreachable=Multiaddr(f"{relay.addrs[0]}/p2p-circuit/p2p/{nobody}"),
            target=listening.peer_id,
        )


Factory = Callable[[Path], AbstractAsyncContextManager[TransportUnderTest]]

TRANSPORTS: dict[str, Factory] = {
    "tcp": tcp_transport,
    "ws": websocket_transport,
    "wss": secure_websocket_transport,
    "memory": memory_transport,
    "relay-circuit": relay_circuit_transport,
}
"""Every transport we ship, by test id."""

KNOWN_DEFECTS: dict[str, str] = {}
"""Contract violations known today, by test id (``test_broken_stays_broken`` shows them)."""
