"""The stream-muxer contract, checked over every muxer we ship (see ``muxers.py``)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from p2pstack.abc.muxer import MuxedSession, MuxedStream
from p2pstack.errors import StackError
from tests.conformance.muxers import MUXERS, MuxerUnderTest

Sessions = tuple[MuxedSession, MuxedSession]
StreamPair = tuple[trio.abc.HalfCloseableStream, trio.abc.HalfCloseableStream]


@pytest.fixture(params=sorted(MUXERS))
def impl(request: pytest.FixtureRequest) -> MuxerUnderTest:
    return MUXERS[request.param]()


@pytest.fixture
async def nursery() -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        yield nursery
        nursery.cancel_scope.cancel()


@pytest.fixture
async def sessions(impl: MuxerUnderTest, nursery: trio.Nursery) -> AsyncIterator[Sessions]:
    client, server = await impl.start(nursery)
    yield client, server
    await client.aclose()
    await server.aclose()


async def open_pair(sessions: Sessions) -> tuple[MuxedStream, MuxedStream]:
    """An outbound stream of the initiator and the same stream accepted by the responder."""
    client, server = sessions
    with trio.fail_after(10):
        outbound = await client.open_stream()
        await outbound.send_all(b"")  # some muxers announce a stream with its first frame
        if getattr(client, "opens_streams_lazily", False):  # QUIC: with its first byte
            await outbound.send_all(b"!")
            inbound = await server.accept_stream()
            assert await inbound.receive_some(1) == b"!"
            return outbound, inbound
        return outbound, await server.accept_stream()


async def test_open_and_accept_exchange_bytes(sessions: Sessions) -> None:
    client, server = sessions
    s1, s2 = await open_pair(sessions)
    assert s1.stream_id == s2.stream_id
    await s1.send_all(b"hello")
    assert await s2.receive_some() == b"hello"
    await s2.send_all(b"world")
    assert await s1.receive_some() == b"world"
    s3, s4 = await open_pair(sessions)
    assert s3.stream_id == s4.stream_id != s1.stream_id
    assert client.num_streams == server.num_streams == 2
    assert await client.ping() >= 0


async def test_trio_stream_checks(impl: MuxerUnderTest, nursery: trio.Nursery) -> None:
    async def maker() -> StreamPair:
        return await open_pair(await impl.start(nursery))

    async def clogged_maker() -> StreamPair:
        s1, s2 = await open_pair(await impl.start(nursery))
        await impl.clog(s1, s2)
        return s1, s2

    with trio.fail_after(60):
        await trio.testing.check_half_closeable_stream(maker, clogged_maker)


async def test_trio_stream_checks_with_every_pair_in_one_session(sessions: Sessions) -> None:
    async def maker() -> StreamPair:
        return await open_pair(sessions)

    with trio.fail_after(60):
        await trio.testing.check_half_closeable_stream(maker, None)
    assert sessions[0].num_streams == sessions[1].num_streams


async def test_many_concurrent_streams_keep_their_data_apart(sessions: Sessions) -> None:
    count, size = 64, 64 * 1024

    async def echo(stream: MuxedStream) -> None:
        while data := await stream.receive_some():
            await stream.send_all(data)
        await stream.send_eof()

    async def serve(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as handlers:
            task_status.started()
            for _ in range(count):
                handlers.start_soon(echo, await sessions[1].accept_stream())

    async def one(seed: int) -> None:
        stream = await sessions[0].open_stream()
        data = bytes((i * seed) % 251 for i in range(size))
        async with trio.open_nursery() as both:

            async def send() -> None:
                await stream.send_all(data)
                await stream.send_eof()

            both.start_soon(send)
            got = bytearray()
            while chunk := await stream.receive_some():
                got += chunk
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        await stream.aclose()

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve)
            for seed in range(1, count + 1):
                nursery.start_soon(one, seed)


async def test_half_close_each_direction_on_its_own(sessions: Sessions) -> None:
    s1, s2 = await open_pair(sessions)
    await s1.send_all(b"request")
    await s1.send_eof()
    assert await s2.receive_some() == b"request"
    assert await s2.receive_some() == b""
    with pytest.raises(trio.ClosedResourceError):
        await s1.send_all(b"more")
    await s2.send_all(b"answer")  # the other direction stays open
    await s2.send_eof()
    assert await s1.receive_some() == b"answer"
    assert await s1.receive_some() == b""
    await s1.aclose()
    await s2.aclose()
    with trio.fail_after(10):
        while sessions[0].num_streams or sessions[1].num_streams:
            await trio.testing.wait_all_tasks_blocked()


async def test_reset_breaks_the_peer_and_closes_ours(sessions: Sessions) -> None:
    s1, s2 = await open_pair(sessions)
    await s1.reset()
    await s1.reset()  # idempotent
    with trio.fail_after(10), pytest.raises(trio.BrokenResourceError):
        await s2.receive_some()
    with pytest.raises(trio.BrokenResourceError):
        await s2.send_all(b"x")
    with pytest.raises(trio.ClosedResourceError):
        await s1.send_all(b"x")
    with pytest.raises(trio.ClosedResourceError):
        await s1.receive_some()


async def test_closing_the_session_ends_its_streams(sessions: Sessions) -> None:
    client, server = sessions
    s1, s2 = await open_pair(sessions)
    await s1.send_all(b"sent before the close")
    assert await s2.receive_some() == b"sent before the close"
    await client.aclose()
    assert client.is_closed
    assert client.close_reason is not None
    with trio.fail_after(10):
        await server.wait_closed()
    assert server.is_closed
    for stream in (s1, s2):  # streams still open become broken, on both ends
        with pytest.raises(trio.BrokenResourceError):
            await stream.send_all(b"x")
        with pytest.raises(trio.BrokenResourceError):
            await stream.receive_some()
    with pytest.raises(trio.EndOfChannel):
        await server.accept_stream()
    with pytest.raises(StackError):  # the muxer's own "session closed" error
        await client.open_stream()
    await client.aclose()  # idempotent


async def test_flow_control_holds_a_large_write_until_read(
    impl: MuxerUnderTest, sessions: Sessions
) -> None:
    s1, s2 = await open_pair(sessions)
    data = bytes(range(256)) * (4 * impl.window // 256)
    done = trio.Event()

    async def send() -> None:
        await s1.send_all(data)
        done.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        await trio.testing.wait_all_tasks_blocked()
        assert not done.is_set(), "a write of four windows finished before anyone read"
        got = bytearray()
        with trio.fail_after(30):
            while len(got) < len(data):
                got += await s2.receive_some(1 << 20)
    assert got == data
