"""Fuzz targets whose decoder reads a trio stream: ping and perf handlers, relay hop/stop
reads, multistream negotiation, and the WebSocket stream (server and client) fed hostile
bytes by the remote side.

Each input runs in its own ``trio.run`` over :class:`HostileStream`, which plays the peer.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import Request

from p2pstack.bufstream import BufferedStream
from p2pstack.host.limits import ConnectionLimits
from p2pstack.host.netstream import NetStream
from p2pstack.host.resources import MemoryLimits, ResourceManager
from p2pstack.multistream.lazy import LazyNegotiatedStream
from p2pstack.multistream.negotiate import handle_protocol, list_protocols, select_protocol
from p2pstack.protocols.perf import PerfConfig, PerfService
from p2pstack.protocols.ping import PingConfig, PingService, _round_trip
from p2pstack.protocols.relay.wire import read_hop, read_stop
from p2pstack.role import Role
from p2pstack.security.noise.cipher import FrameEncryptor
from p2pstack.security.noise.stream import NoiseStream
from p2pstack.transports.ws_stream import WebSocketStream, open_client_stream

from .registry import chunks, is_typed_stream_error, target
from .targets_codecs import ALICE, BOB

if TYPE_CHECKING:
    from p2pstack.abc.muxer import MuxedStream
    from p2pstack.host.connection import Connection as NodeConnection

SEND_LIMIT = 4 * 1024 * 1024
"""After this many bytes the hostile peer stops reading (a perf request for 2**64 bytes...)."""


class PeerGone(trio.BrokenResourceError):
    """The hostile peer stopped reading: what a real transport raises then."""


class HostileStream(trio.abc.HalfCloseableStream):
    """The remote side: hands out ``pieces`` one per read, then EOF; swallows what we send.

    ``respond`` (optional) sees everything we sent so far before each read and may return
    more pieces to deliver (to answer a handshake).
    """

    def __init__(
        self, pieces: list[bytes], respond: Callable[[bytes], list[bytes]] | None = None
    ) -> None:
        self.pieces = list(pieces)
        self.respond = respond
        self.sent = bytearray()
        self.sent_total = 0
        self.closed = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        if self.closed:
            raise trio.ClosedResourceError("closed")
        if self.respond is not None:
            self.pieces[:0] = self.respond(bytes(self.sent))
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if max_bytes is not None and len(piece) > max_bytes:
            self.pieces.insert(0, piece[max_bytes:])
            piece = piece[:max_bytes]
        return piece

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        if self.closed:
            raise trio.ClosedResourceError("closed")
        self.sent_total += len(data)
        if self.sent_total > SEND_LIMIT:
            raise PeerGone("the peer stopped reading")
        if len(self.sent) < 65536:
            self.sent += data

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        self.closed = True
        await trio.lowlevel.checkpoint()


class _FakeConnection:
    """What a NetStream needs of its connection."""

    peer_id = BOB.peer_id

    def stream_opened(self, stream: object) -> None:
        pass

    def stream_closed(self, stream: object) -> None:
        pass


def _net_stream(stream: HostileStream, protocol: str) -> NetStream:
    resources = ResourceManager(ConnectionLimits(), MemoryLimits())
    scope = resources.open_connection(role=Role.RESPONDER).open_stream(
        role=Role.RESPONDER, protocol=protocol
    )
    return NetStream(
        cast("MuxedStream", stream),
        protocol,
        cast("NodeConnection", _FakeConnection()),
        role=Role.RESPONDER,
        scope=scope,
    )


def _run(fn: Callable[[], Awaitable[Any]]) -> None:
    """Run ``fn`` under trio (virtual clock: handler timeouts cost no real time)."""

    async def main() -> None:
        try:
            await fn()
        except BaseException as exc:
            if isinstance(exc, PeerGone) or is_typed_stream_error(exc):
                return
            raise

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


# ------------------------------------------------------------------------ ping, perf
@target("ping")
def ping(data: bytes) -> None:
    pieces = chunks(data)
    _run(lambda: PingService(PingConfig()).handle(_net_stream(HostileStream(pieces), "ping")))
    _run(lambda: _round_trip(_net_stream(HostileStream(pieces), "ping")))


@target("perf")
def perf(data: bytes) -> None:
    service = PerfService(PerfConfig(write_size=64 * 1024))
    _run(lambda: service.handle(_net_stream(HostileStream(chunks(data)), "perf")))


# ------------------------------------------------------------------------------ relay
@target("relay_wire")
def relay_wire(data: bytes) -> None:
    pieces = chunks(data)
    _run(lambda: read_hop(BufferedStream(HostileStream(pieces))))
    _run(lambda: read_stop(BufferedStream(HostileStream(pieces))))


# -------------------------------------------------------------------------- WebSocket
async def _drain(stream: WebSocketStream, into: bool) -> None:
    """Use the stream as a protocol would: send, read to the end, send again, half-close.
    ``into``: read with ``receive_into`` (frames routed in place), else ``receive_some``."""
    buffer = bytearray(65536)
    try:
        await stream.send_all(b"hello")
        for _ in range(10_000):
            if not (
                await stream.receive_into(buffer) if into else await stream.receive_some(65536)
            ):
                break
        await stream.send_all(b"bye")
        await stream.send_eof()
    finally:
        await stream.aclose()


def _each_read_path(open_stream: Callable[[], Awaitable[WebSocketStream]]) -> None:
    """Drain the stream ``open_stream()`` gives once per read path, each in a trio run of its
    own (a typed error ends only that run)."""
    for into in (False, True):

        async def one(into: bool = into) -> None:
            await _drain(await open_stream(), into)

        _run(one)


UPGRADE_REQUEST = WSConnection(ConnectionType.CLIENT).send(Request(host="fuzz", target="/"))
"""A valid client upgrade request (the server's answer does not depend on the key)."""


@target("ws_server")
def ws_server(data: bytes) -> None:
    """Raw hostile bytes from a client: the HTTP upgrade and then frames."""

    async def server() -> WebSocketStream:
        return WebSocketStream(HostileStream(chunks(data)), handshake_timeout=5)

    _each_read_path(server)


@target("ws_server_frames")
def ws_server_frames(data: bytes) -> None:
    """A valid upgrade request, then the input as the client's frames."""

    async def server() -> WebSocketStream:
        pieces = [UPGRADE_REQUEST, *chunks(data)]
        return WebSocketStream(HostileStream(pieces), max_frame_size=4096)

    _each_read_path(server)


_KEY = re.compile(rb"Sec-WebSocket-Key: *([A-Za-z0-9+/=]+)", re.IGNORECASE)
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _accepting(frames: list[bytes], extra_headers: bytes = b"") -> Callable[[bytes], list[bytes]]:
    """A server that answers the upgrade with a valid 101 (plus ``extra_headers``), then
    sends ``frames``."""
    answered = False

    def respond(sent: bytes) -> list[bytes]:
        nonlocal answered
        match = _KEY.search(sent)
        if answered or match is None:
            return []
        answered = True
        accept = base64.b64encode(hashlib.sha1(match.group(1) + _GUID).digest())
        head = (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n"
        )
        return [head + extra_headers + b"\r\n", *frames]

    return respond


def _client(transport: Callable[[], HostileStream]) -> None:
    """Our client over a fresh ``transport()``, once per read path."""

    async def client() -> WebSocketStream:
        return await open_client_stream(transport(), host="fuzz", max_frame_size=4096)

    _each_read_path(client)


@target("ws_client")
def ws_client(data: bytes) -> None:
    """Raw hostile bytes from a server: the HTTP answer to our upgrade, then frames."""
    _client(lambda: HostileStream(chunks(data)))


@target("ws_client_frames")
def ws_client_frames(data: bytes) -> None:
    """A valid 101 answer, then the input as the server's frames."""
    _client(lambda: HostileStream([], respond=_accepting(chunks(data))))


@target("ws_client_upgrade")
def ws_client_upgrade(data: bytes) -> None:
    """A valid 101 answer with the input's header lines added (up to a blank line), then
    the rest of the input as the server's frames."""
    headers, _, frames = data.partition(b"\r\n\r\n")
    extra = headers + b"\r\n" if headers else b""
    _client(lambda: HostileStream([], respond=_accepting([frames] if frames else [], extra)))


# ---------------------------------------------------------------- multistream on trio
async def _lazy_read(stream: HostileStream) -> None:
    lazy = LazyNegotiatedStream(stream, "/echo/1.0.0")
    await lazy.send_all(b"request")
    while await lazy.receive_some(1024):
        pass


@target("multistream_streams")
def multistream_streams(data: bytes) -> None:
    """The trio negotiation helpers (listener, dialer, lister, lazy dialer) over the input."""
    pieces = chunks(data)
    ours = ["/ipfs/ping/1.0.0", "/echo/1.0.0"]
    _run(lambda: handle_protocol(HostileStream(pieces), ours))
    _run(lambda: select_protocol(HostileStream(pieces), ours))
    _run(lambda: list_protocols(HostileStream(pieces)))
    _run(lambda: _lazy_read(HostileStream(pieces)))


# ------------------------------------------------------------------------ Noise stream
async def _noise_read(transport: HostileStream) -> None:
    stream = NoiseStream(
        transport,
        send_key=bytes(32),
        recv_key=_NOISE_KEY,
        local_peer=BOB.peer_id,
        remote_peer=ALICE.peer_id,
        remote_public_key=ALICE.public_key,
    )
    try:
        await stream.send_all(b"hello")
        while await stream.receive_some(1000):
            pass
        await stream.send_eof()
    finally:
        await stream.aclose()


_NOISE_KEY = bytes(range(32))


@target("noise_stream")
def noise_stream(data: bytes) -> None:
    """The Noise transport stream: raw hostile bytes, then the pieces as valid frames (the
    last one cut short when the input's length is odd)."""
    _run(lambda: _noise_read(HostileStream(chunks(data))))
    encryptor = FrameEncryptor(_NOISE_KEY)
    wire = b"".join(bytes(encryptor.encrypt(piece)) for piece in chunks(data))
    if len(data) % 2:
        wire = wire[:-1]
    _run(lambda: _noise_read(HostileStream([wire[i : i + 50] for i in range(0, len(wire), 50)])))
