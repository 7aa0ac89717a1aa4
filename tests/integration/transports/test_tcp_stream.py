"""TcpStream: receive_into, atomic sends and cancel-safe receives (trio's stream checks run
over the TCP transport in tests/conformance/test_transport.py)."""

from __future__ import annotations

import socket
import struct

import pytest
import trio
import trio.testing

from p2pstack.stream_ops import ReceivesInto, SendsAtomically, receive_is_cancel_safe
from p2pstack.transports.tcp_stream import TcpStream


async def tcp_stream_pair() -> tuple[TcpStream, TcpStream]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    await listeners[0].aclose()
    return TcpStream.from_trio(client), TcpStream.from_trio(server)


async def test_capabilities_and_options() -> None:
    left, right = await tcp_stream_pair()
    assert isinstance(left, ReceivesInto)
    assert isinstance(left, SendsAtomically)
    assert receive_is_cancel_safe(left)
    assert left.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert not left.socket.getblocking()
    assert "TcpStream fd=" in repr(left)
    await left.aclose()
    await right.aclose()


async def test_from_trio_needs_a_stream_socket() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(ValueError, match="SOCK_STREAM"),
    ):
        TcpStream(sock)


async def test_receive_into_reads_and_reports_eof() -> None:
    left, right = await tcp_stream_pair()
    buffer = bytearray(8)
    await left.send_all(b"hello, world")
    got = bytearray()
    while len(got) < 12:
        count = await right.receive_into(buffer)
        got += buffer[:count]
    assert got == b"hello, world"
    await left.send_eof()
    assert await right.receive_into(buffer) == 0
    await right.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await right.receive_into(buffer)
    await left.aclose()


async def test_cancelled_receive_loses_nothing() -> None:
    left, right = await tcp_stream_pair()
    with trio.move_on_after(0.05):
        await right.receive_some()
    with trio.CancelScope() as scope:
        scope.cancel()
        await left.send_all_atomic(b"first")  # atomic: sent although cancelled
    await left.send_all(b"second")
    got = bytearray()
    while len(got) < 11:
        got += await right.receive_some()
    assert got == b"firstsecond"
    await left.aclose()
    await right.aclose()


async def test_atomic_send_finishes_a_large_write_when_cancelled() -> None:
    left, right = await tcp_stream_pair()
    payload = bytes(range(256)) * 40_000
    got = bytearray()

    async def drain() -> None:
        while len(got) < len(payload):
            got.extend(await right.receive_some(1 << 20))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            with trio.CancelScope() as scope:
                scope.cancel()
                await left.send_all_atomic(payload)
            assert scope.cancelled_caught is False  # the send itself never raised Cancelled
    assert got == payload
    await left.aclose()
    await right.aclose()


async def test_broken_connection_is_a_broken_resource() -> None:
    left, right = await tcp_stream_pair()
    linger_zero = struct.pack("ii", 1, 0)  # close with an RST
    right.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
    await right.aclose()
    await trio.sleep(0.05)
    with pytest.raises(trio.BrokenResourceError):
        await left.send_all(bytes(65536))
    await left.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await left.send_all_atomic(b"x")
    with pytest.raises(trio.ClosedResourceError):
        await left.send_eof()
