"""The WebSocket transport over real sockets: addresses, an independent WebSocket
implementation (trio-websocket) on the other end, TLS, and bad input."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

import pytest
import trio
import trio_websocket

from p2pstack.abc.transport import TransportListener
from p2pstack.errors import InvalidConfigError, TransportError
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.dns import dns
from p2pstack.transports.websocket import WebSocketConfig, parse_ws_address, websocket
from p2pstack.transports.ws_protocol import WebSocketClosed, WebSocketError, WebSocketHandshakeError
from p2pstack.transports.ws_stream import WebSocketStream
from tests.helpers.websocket import make_certificate, tls_transport

PEER = "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv"


@pytest.mark.parametrize(
    ("addr", "dial", "listen"),
    [
        ("/ip4/127.0.0.1/tcp/1/ws", True, True),
        (f"/ip4/127.0.0.1/tcp/1/ws/p2p/{PEER}", True, True),
        ("/ip6/::1/tcp/1/wss", True, True),
        ("/ip4/127.0.0.1/tcp/1/tls/ws", True, True),
        ("/ip4/127.0.0.1/tcp/1/tls/sni/example.com/ws", True, True),
        ("/dns4/localhost/tcp/1/ws", False, False),  # names are the dns() transport's
        ("/dns/example.com/tcp/443/wss", False, False),
        ("/ip4/127.0.0.1/tcp/1", False, False),
        ("/ip4/127.0.0.1/tcp/1/ws/ws", False, False),
        ("/ip4/127.0.0.1/udp/1/ws", False, False),
        ("/dnsaddr/example.com/tcp/1/ws", False, False),
    ],
)
def test_which_addresses(addr: str, dial: bool, listen: bool) -> None:
    transport = websocket()
    assert transport.can_dial(Multiaddr(addr)) is dial
    assert transport.can_listen(Multiaddr(addr)) is listen


def test_host_header_and_server_name() -> None:
    parsed = parse_ws_address(Multiaddr("/ip6/::1/tcp/8/ws"))
    assert parsed is not None
    assert parsed.host_header() == "[::1]:8"
    parsed = parse_ws_address(Multiaddr("/ip4/1.2.3.4/tcp/443/tls/sni/a.example/ws"))
    assert parsed is not None
    assert (parsed.server_name, parsed.host_header()) == ("a.example", "a.example:443")


def test_config_is_validated() -> None:
    with pytest.raises(InvalidConfigError):
        WebSocketConfig(read_size=10)
    with pytest.raises(InvalidConfigError):
        WebSocketConfig(handshake_timeout=0)


async def test_listen_reports_real_port_and_dial_by_dns_name() -> None:
    transport = dns([websocket()])
    listener = await transport.listen(Multiaddr("/ip4/127.0.0.1/tcp/0/ws"))
    (bound,) = listener.listen_addrs
    port = bound.value_for("tcp")
    assert port != "0"
    assert str(bound) == f"/ip4/127.0.0.1/tcp/{port}/ws"
    async with trio.open_nursery() as nursery:
        accepted: list[WebSocketStream] = []

        async def accept() -> None:
            raw = await listener.accept()
            assert isinstance(raw.stream, WebSocketStream)
            accepted.append(raw.stream)
            assert await raw.stream.receive_some() == b"hi"
            await raw.stream.aclose()

        nursery.start_soon(accept)
        raw = await transport.dial(Multiaddr(f"/dns4/localhost/tcp/{port}/ws/p2p/{PEER}"))
        assert raw.remote_addr == bound
        assert raw.local_addr is not None
        assert str(raw.local_addr).endswith("/ws")
        await raw.stream.send_all(b"hi")
        assert await raw.stream.receive_some() == b""
        await raw.stream.aclose()
    await listener.aclose()


async def test_listen_on_secure_address_needs_a_certificate() -> None:
    with pytest.raises(TransportError, match="ssl_context"):
        await websocket().listen(Multiaddr("/ip4/127.0.0.1/tcp/0/wss"))


async def test_dial_refused_is_transport_error() -> None:
    transport = websocket()
    listener = await transport.listen(Multiaddr("/ip4/127.0.0.1/tcp/0/ws"))
    addr = listener.listen_addrs[0]
    await listener.aclose()
    with pytest.raises(TransportError, match="failed"):
        await transport.dial(addr)


# ------------------------------------------------------------ trio-websocket peers


@asynccontextmanager
async def trio_websocket_client(
    listener: TransportListener,
) -> AsyncIterator[tuple[trio_websocket.WebSocketConnection, WebSocketStream]]:
    """A trio-websocket client connected to ``listener``, and our accepted stream."""
    port = listener.listen_addrs[0].value_for("tcp")
    accepted: list[WebSocketStream] = []
    ready = trio.Event()

    async def accept() -> None:
        raw = await listener.accept()
        assert isinstance(raw.stream, WebSocketStream)
        await raw.stream.do_handshake()
        accepted.append(raw.stream)
        ready.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept)
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            with trio.fail_after(5):
                await ready.wait()
            yield ws, accepted[0]


async def test_trio_websocket_client_against_our_listener() -> None:
    listener = await websocket().listen(Multiaddr("/ip4/127.0.0.1/tcp/0/ws"))
    port = listener.listen_addrs[0].value_for("tcp")
    async with trio.open_nursery() as nursery:
        server_done = trio.Event()

        async def serve() -> None:
            raw = await listener.accept()
            stream = raw.stream
            received = bytearray()
            while len(received) < 10:
                received += await stream.receive_some()
            assert received == b"helloworld"  # a text and a binary message: both stream bytes
            await stream.send_all(b"x" * 100_000)
            assert await stream.receive_some() == b""  # the client's Close(1000) is EOF
            assert isinstance(stream, WebSocketStream)
            assert stream.close_code == 1000
            await stream.aclose()
            server_done.set()

        nursery.start_soon(serve)
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send_message("hello")
            await ws.send_message(b"world")
            got = bytearray()
            while len(got) < 100_000:
                message = await ws.get_message()
                assert isinstance(message, bytes)  # we send binary frames
                got += message
            assert got == b"x" * 100_000
        await server_done.wait()
    await listener.aclose()


async def test_we_answer_pings() -> None:
    listener = await websocket().listen(Multiaddr("/ip4/127.0.0.1/tcp/0/ws"))
    port = listener.listen_addrs[0].value_for("tcp")
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            raw = await listener.accept()
            assert await raw.stream.receive_some() == b""
            await raw.stream.aclose()

        nursery.start_soon(serve)
        async with trio_websocket.open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            with trio.fail_after(5):
                await ws.ping(b"are you there")
    await listener.aclose()


async def test_our_dial_against_trio_websocket_server() -> None:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        assert request.path == "/"
        ws = await request.accept()
        try:
            while True:
                message = await ws.get_message()
                await ws.send_message(message.upper() if isinstance(message, bytes) else message)
        except trio_websocket.ConnectionClosed:
            pass

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
        port = server.port
        raw = await websocket().dial(Multiaddr(f"/ip4/127.0.0.1/tcp/{port}/ws"))
        payload = b"abc" * 100_000
        await raw.stream.send_all(payload)
        got = bytearray()
        while len(got) < len(payload):
            got += await raw.stream.receive_some()
        assert got == payload.upper()
        await raw.stream.aclose()
        nursery.cancel_scope.cancel()


async def test_error_close_code_is_broken_resource() -> None:
    listener = await websocket().listen(Multiaddr("/ip4/127.0.0.1/tcp/0/ws"))
    async with trio_websocket_client(listener) as (ws, stream), trio.open_nursery() as nursery:
        nursery.start_soon(ws.aclose, 4000, "go away")  # waits for our echo of the Close
        with pytest.raises(trio.BrokenResourceError) as info:
            await stream.receive_some()
        assert isinstance(info.value.__cause__, WebSocketClosed)
        assert info.value.__cause__.code == 4000
        await stream.aclose()
    await listener.aclose()


async def test_oversized_frame_is_refused_with_1009() -> None:
    server = websocket(WebSocketConfig(max_frame_size=1000))
    listener = await server.listen(Multiaddr("/ip4/127.0.0.1/tcp/0/ws"))
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            raw = await listener.accept()
            with pytest.raises(trio.BrokenResourceError) as info:
                await raw.stream.receive_some()
            assert isinstance(info.value.__cause__, WebSocketError)
            assert "exceeds the limit of 1000" in str(info.value.__cause__)
            await raw.stream.aclose()

        nursery.start_soon(serve)
        raw = await websocket().dial(listener.listen_addrs[0])
        await raw.stream.send_all(b"y" * 1001)  # one frame
        with pytest.raises(trio.BrokenResourceError) as info:
            await raw.stream.receive_some()
        assert isinstance(info.value.__cause__, WebSocketClosed)
        assert info.value.__cause__.code == 1009
        await raw.stream.aclose()
    await listener.aclose()


# -------------------------------------------------------------------- bad input


async def _raw_exchange(request: bytes, config: WebSocketConfig | None = None) -> tuple[
    bytes, BaseException | None
]:  # fmt: skip
    """Send ``request`` over plain TCP; return the server's answer and its handshake error."""
    listener = await websocket(config).listen(Multiaddr("/ip4/127.0.0.1/tcp/0/ws"))
    port = int(listener.listen_addrs[0].value_for("tcp") or 0)
    client = await trio.open_tcp_stream("127.0.0.1", port)
    raw = await listener.accept()
    stream = raw.stream
    assert isinstance(stream, WebSocketStream)
    error: BaseException | None = None
    answer = bytearray()
    async with trio.open_nursery() as nursery:

        async def handshake() -> None:
            nonlocal error
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as exc:
                error = exc.__cause__
            await stream.aclose()

        nursery.start_soon(handshake)
        if request:
            await client.send_all(request)
        while chunk := await client.receive_some():
            answer += chunk
    await client.aclose()
    await listener.aclose()
    return bytes(answer), error


async def test_garbage_http_gets_400() -> None:
    answer, error = await _raw_exchange(b"\x16\x03\x01garbage that is not HTTP\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert isinstance(error, WebSocketHandshakeError)


async def test_plain_http_client_gets_400() -> None:
    answer, error = await _raw_exchange(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")  # wsproto's answer to a request without Upgrade
    assert isinstance(error, WebSocketHandshakeError)


async def test_silent_client_times_out() -> None:
    answer, error = await _raw_exchange(b"", WebSocketConfig(handshake_timeout=0.2))
    assert answer == b""
    assert isinstance(error, WebSocketHandshakeError)
    assert "timed out" in str(error)


async def test_non_websocket_server_is_transport_error() -> None:
    async def http_server(stream: trio.SocketStream) -> None:
        await stream.receive_some()
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        (listener,) = await nursery.start(partial(trio.serve_tcp, http_server, 0, host="127.0.0.1"))
        port = listener.socket.getsockname()[1]
        with pytest.raises(TransportError, match="HTTP 200") as info:
            await websocket().dial(Multiaddr(f"/ip4/127.0.0.1/tcp/{port}/ws"))
        assert isinstance(info.value.__cause__, WebSocketHandshakeError)
        nursery.cancel_scope.cancel()


# --------------------------------------------------------------------------- TLS


@pytest.mark.parametrize("suffix", ["wss", "tls/ws", "tls/sni/localhost/ws"])
async def test_tls_round_trip(tmp_path: Path, suffix: str) -> None:
    transport = tls_transport(make_certificate(tmp_path))
    listener = await transport.listen(Multiaddr(f"/ip4/127.0.0.1/tcp/0/{suffix}"))
    (addr,) = listener.listen_addrs
    assert str(addr).endswith(suffix)
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            raw = await listener.accept()
            await raw.stream.send_all(await raw.stream.receive_some())
            await raw.stream.aclose()

        nursery.start_soon(serve)
        raw = await transport.dial(addr)
        await raw.stream.send_all(b"secret")
        assert await raw.stream.receive_some() == b"secret"
        await raw.stream.aclose()
    await listener.aclose()


async def test_tls_dns_name_is_verified(tmp_path: Path) -> None:
    transport = tls_transport(make_certificate(tmp_path))
    listener = await transport.listen(Multiaddr("/ip4/127.0.0.1/tcp/0/wss"))
    port = listener.listen_addrs[0].value_for("tcp")
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            raw = await listener.accept()
            with pytest.raises(trio.BrokenResourceError):
                await raw.stream.receive_some()
            await raw.stream.aclose()

        nursery.start_soon(serve)
        # The certificate names localhost, not "example.invalid": verification must fail.
        with pytest.raises(TransportError) as info:
            await transport.dial(Multiaddr(f"/ip4/127.0.0.1/tcp/{port}/tls/sni/example.invalid/ws"))
        assert isinstance(info.value.__cause__, trio.BrokenResourceError)
        assert isinstance(info.value.__cause__.__cause__, ssl.SSLCertVerificationError)
    await listener.aclose()


async def test_tls_untrusted_certificate_is_refused_by_default(tmp_path: Path) -> None:
    server = tls_transport(make_certificate(tmp_path))
    listener = await server.listen(Multiaddr("/ip4/127.0.0.1/tcp/0/wss"))
    async with trio.open_nursery() as nursery:

        async def serve() -> None:
            raw = await listener.accept()
            with pytest.raises(trio.BrokenResourceError):
                await raw.stream.receive_some()
            await raw.stream.aclose()

        nursery.start_soon(serve)
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            await websocket().dial(listener.listen_addrs[0])  # system CAs only
    await listener.aclose()
