"""A QUIC session accepts the peer's streams whatever order their first bytes arrive in
(using stream id N opens every lower id, RFC 9000 section 2.1)."""

from __future__ import annotations

import trio

from tests.conformance.muxers import start_quic


async def test_a_stream_whose_first_bytes_arrive_after_a_higher_one_is_accepted() -> None:
    async with trio.open_nursery() as nursery:
        client, server = await start_quic(nursery)
        first, second, third = [await client.open_stream() for _ in range(3)]
        assert first.stream_id < second.stream_id < third.stream_id
        for stream, data in ((third, b"third"), (first, b"first"), (second, b"second")):
            await stream.send_all(data)  # returns once in packets: they leave in this order
            await stream.send_eof()
        got: dict[int, bytes] = {}
        with trio.fail_after(10):
            for _ in range(3):
                inbound = await server.accept_stream()
                data = b""
                while chunk := await inbound.receive_some():
                    data += chunk
                got[inbound.stream_id] = data
        assert got == {
            third.stream_id: b"third",
            first.stream_id: b"first",
            second.stream_id: b"second",
        }
        await client.aclose()
        nursery.cancel_scope.cancel()
