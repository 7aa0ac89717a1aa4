"""Peer streams whose first frames arrive out of order (RFC 9000 §3.2): opening stream N
opens every lower one of its type, so a lower stream's first byte arriving after a higher
one's still makes a new stream."""

from __future__ import annotations

import contextlib

import trio

from p2pstack.transports.quic import QuicStream
from tests.conformance.muxers import start_quic


async def test_lower_stream_whose_first_frame_comes_later_is_accepted() -> None:
    async with trio.open_nursery() as nursery:
        client, server = await start_quic(nursery)
        first, second, third = [await client.open_stream() for _ in range(3)]
        # send_all returns once the bytes are in packets: the server sees them in this order
        await third.send_all(b"third")
        await first.send_all(b"first")
        await second.send_all(b"second")
        got = {}
        with trio.fail_after(10):
            for _ in range(3):
                stream = await server.accept_stream()
                assert isinstance(stream, QuicStream)
                got[stream.stream_id] = await stream.receive_some()
        assert got == {0: b"first", 4: b"second", 8: b"third"}
        nursery.cancel_scope.cancel()


async def test_late_data_on_a_closed_peer_stream_makes_no_new_stream() -> None:
    async with trio.open_nursery() as nursery:
        client, server = await start_quic(nursery)
        stream = await client.open_stream()
        await stream.send_all(b"hello")
        with trio.fail_after(10):
            accepted = await server.accept_stream()
            assert await accepted.receive_some() == b"hello"
            await accepted.aclose()  # STOP_SENDING: the client's later writes fail
            with contextlib.suppress(trio.BrokenResourceError):  # if STOP_SENDING came first
                await stream.send_all(b"late")
            probe = await client.open_stream()
            await probe.send_all(b"probe")
            again = await server.accept_stream()
        assert isinstance(again, QuicStream)
        assert again.stream_id == 4
        assert await again.receive_some() == b"probe"
        nursery.cancel_scope.cancel()
