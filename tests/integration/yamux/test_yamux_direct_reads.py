"""Receivers read the transport themselves when its reads are cancel-safe (TCP): handoffs
between receivers and the reader task, cancelled receivers, and traffic nobody waits for."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from p2pstack.muxers.yamux import YamuxStream
from tests.helpers.yamux import memory_pair, session_pair, tcp_pair


async def test_direct_reads_only_over_cancel_safe_transports() -> None:
    async with session_pair(tcp_pair) as (client, _server):
        assert client.read_role.direct
    async with session_pair(memory_pair) as (client, _server):
        assert not client.read_role.direct


async def test_receivers_on_many_streams_all_get_their_data() -> None:
    with trio.fail_after(30):
        async with session_pair(tcp_pair) as (client, server):
            outs = [await client.open_stream() for _ in range(8)]
            ins = [await server.accept_stream() for _ in range(8)]
            got: dict[int, bytes] = {}

            async def receive(index: int) -> None:
                got[index] = await ins[index].receive_some()

            async with trio.open_nursery() as nursery:
                for index in range(8):
                    nursery.start_soon(receive, index)
                await trio.testing.wait_all_tasks_blocked()
                for index in reversed(range(8)):
                    await outs[index].send_all(b"to %d" % index)
            assert got == {index: b"to %d" % index for index in range(8)}


async def test_cancelled_receiver_hands_reading_back() -> None:
    """A receiver cancelled while it reads the transport loses no data, and the reader task
    takes over again: later data for other streams, pings and window updates still flow."""
    with trio.fail_after(30):
        async with session_pair(tcp_pair) as (client, server):
            out_a, out_b = await client.open_stream(), await client.open_stream()
            in_a, in_b = await server.accept_stream(), await server.accept_stream()
            with trio.move_on_after(0.05):
                await in_a.receive_some()
            assert in_a.record.buffered == 0
            await out_a.send_all(b"for a")
            assert await client.ping() >= 0
            assert await server.ping() >= 0
            assert await in_a.receive_some() == b"for a"

            async def drain() -> None:
                received = 0
                while received < 4 * 1024 * 1024:
                    received += len(await in_b.receive_some())

            async with trio.open_nursery() as nursery:
                nursery.start_soon(drain)
                await out_b.send_all(bytes(4 * 1024 * 1024))  # needs window updates


async def test_receiver_takes_over_from_the_reader_task() -> None:
    with trio.fail_after(30):
        async with session_pair(tcp_pair) as (client, server):
            out = await client.open_stream()
            inbound = await server.accept_stream()
            await trio.testing.wait_all_tasks_blocked()
            assert server.read_role.reading
            assert server.read_role.reader_stream is None  # the reader task is reading
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_expect, inbound, b"hello")
                await trio.testing.wait_all_tasks_blocked()
                assert server.read_role.reader_stream is inbound  # the reader task stepped aside
                await out.send_all(b"hello")


async def _expect(stream: YamuxStream, data: bytes) -> None:
    assert await stream.receive_some() == data


async def test_session_end_wakes_a_reading_receiver() -> None:
    with trio.fail_after(30):
        async with session_pair(tcp_pair) as (client, server):
            out = await client.open_stream()
            inbound = await server.accept_stream()
            del out

            async def receive() -> None:
                try:
                    await inbound.receive_some()
                except trio.BrokenResourceError:
                    return
                raise AssertionError("receive_some should have failed")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                await trio.testing.wait_all_tasks_blocked()
                await client.aclose()


async def test_closing_a_stream_wakes_its_reading_receiver() -> None:
    with trio.fail_after(30):
        async with session_pair(tcp_pair) as (client, server):
            out = await client.open_stream()
            inbound = await server.accept_stream()

            async def receive() -> None:
                with pytest.raises(trio.ClosedResourceError):
                    await inbound.receive_some()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(receive)
                await trio.testing.wait_all_tasks_blocked()
                assert server.read_role.reader_stream is inbound
                await inbound.aclose()
            await out.send_all(b"after close")  # the reader task serves the session again
            assert await client.ping() >= 0
