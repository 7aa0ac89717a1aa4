"""The trio adapter: session lifecycle, failures, limits, keepalive and data integrity."""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from p2pstack.abc.muxer import MuxedSession, MuxedStream, StreamMuxer
from p2pstack.errors import LimitExceeded
from p2pstack.muxers.yamux import (
    PROTOCOL_ID,
    ConnectionLost,
    KeepAliveTimeout,
    RemoteGoAway,
    SessionClosed,
    StreamIdError,
    StreamResetError,
    YamuxConfig,
    YamuxSession,
    YamuxStream,
    yamux,
)
from p2pstack.role import Role
from tests.helpers.yamux import memory_pair, raw_session, session_pair, start_pair, tcp_pair
from tests.helpers.yamux_core import ACK, DATA, FIN, GO_AWAY, PING, RST, SYN, WU, frame


async def test_factory_and_contract_types() -> None:
    muxer: StreamMuxer = yamux()
    assert muxer.protocol_id == PROTOCOL_ID == "/yamux/1.0.0"
    left, _right = trio.testing.memory_stream_pair()
    session: MuxedSession = muxer.new_session(left, role=Role.INITIATOR)
    assert isinstance(session, YamuxSession)
    assert not session.is_closed
    assert session.close_reason is None
    await session.aclose()
    await session.aclose()
    assert session.is_closed
    await session.wait_closed()


async def test_echo_ping_and_clean_close() -> None:
    with trio.fail_after(10):
        async with session_pair() as (client, server):
            stream = await client.open_stream()
            assert isinstance(stream, MuxedStream)
            assert stream.stream_id == 1
            await stream.send_all(b"ping?")
            await stream.send_eof()
            inbound = await server.accept_stream()
            assert inbound.stream_id == 1
            assert await inbound.receive_some() == b"ping?"
            assert await inbound.receive_some() == b""
            await inbound.send_all(b"pong!")
            await inbound.aclose()
            assert await stream.receive_some() == b"pong!"
            assert await stream.receive_some() == b""
            await stream.aclose()
            assert await client.ping() >= 0
            assert await server.ping() >= 0
            assert client.core.rtt is not None
        await server.wait_closed()
        assert isinstance(client.close_reason, SessionClosed)
        assert isinstance(server.close_reason, ConnectionLost | SessionClosed)
        with pytest.raises(trio.EndOfChannel):
            await server.accept_stream()
        with pytest.raises(SessionClosed):
            await client.open_stream()
        with pytest.raises(SessionClosed):
            await client.ping()


@pytest.mark.parametrize("over_tcp", [False, True])
async def test_bulk_duplex_many_streams_keep_data_intact(over_tcp: bool) -> None:
    size = 3 * 1024 * 1024
    rng = random.Random(7)
    payloads = [rng.randbytes(size) for _ in range(4)]

    async def pump(stream: YamuxStream, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = rng.randint(1, 300_000)
            await stream.send_all(view[:n])
            view = view[n:]
        await stream.send_eof()

    async def drain(stream: YamuxStream, expected: bytes) -> None:
        got = bytearray()
        while chunk := await stream.receive_some(rng.randint(1, 500_000)):
            got += chunk
        assert got == expected

    with trio.fail_after(60):
        async with session_pair(tcp_pair if over_tcp else memory_pair) as (client, server):
            async with trio.open_nursery() as nursery:
                for data in payloads:
                    out = await client.open_stream()
                    inbound = await server.accept_stream()
                    nursery.start_soon(pump, out, data)
                    nursery.start_soon(drain, inbound, data)
                    nursery.start_soon(pump, inbound, data[::-1])
                    nursery.start_soon(drain, out, data[::-1])
            assert client.num_streams == server.num_streams == 0


async def test_windows_auto_tune_on_a_fast_stream() -> None:
    with trio.fail_after(30):
        async with session_pair() as (client, server):
            await client.ping()
            out = await client.open_stream()
            inbound = await server.accept_stream()

            async def send() -> None:
                chunk = bytes(256 * 1024)
                for _ in range(128):
                    await out.send_all(chunk)
                await out.send_eof()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send)
                while await inbound.receive_some(1024 * 1024):
                    pass
            assert inbound.record.recv_max > 256 * 1024
            assert inbound.record.recv_max <= 16 * 1024 * 1024


async def test_peer_reset_breaks_stream_with_cause() -> None:
    with trio.fail_after(10):
        async with session_pair() as (client, server):
            out = await client.open_stream()
            inbound = await server.accept_stream()

            async def blocked_receive() -> None:
                with pytest.raises(trio.BrokenResourceError) as info:
                    await inbound.receive_some()
                assert isinstance(info.value.__cause__, StreamResetError)
                assert info.value.__cause__.remote

            async with trio.open_nursery() as nursery:
                nursery.start_soon(blocked_receive)
                await trio.testing.wait_all_tasks_blocked()
                await out.reset()
            with pytest.raises(trio.BrokenResourceError):
                await inbound.send_all(b"x")
            with pytest.raises(trio.ClosedResourceError):
                await out.send_all(b"x")
            await out.reset()
            await inbound.aclose()


async def test_session_failure_wakes_everyone() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            session, peer = await raw_session(nursery, role=Role.INITIATOR)
            stream = await session.open_stream()
            await peer.send(frame(WU, ACK, 1, 0))
            outcomes: list[str] = []

            async def receive() -> None:
                with pytest.raises(trio.BrokenResourceError) as info:
                    await stream.receive_some()
                assert isinstance(info.value.__cause__, ConnectionLost)
                outcomes.append("receive")

            async def send() -> None:
                with pytest.raises(trio.BrokenResourceError):
                    await stream.send_all(bytes(1024 * 1024))
                outcomes.append("send")

            async def accept() -> None:
                with pytest.raises(trio.EndOfChannel):
                    await session.accept_stream()
                outcomes.append("accept")

            async def ping() -> None:
                with pytest.raises(SessionClosed):
                    await session.ping()
                outcomes.append("ping")

            for task in (receive, send, accept, ping):
                nursery.start_soon(task)
            await trio.testing.wait_all_tasks_blocked()
            await peer.stream.aclose()
            await session.wait_closed()
        assert sorted(outcomes) == ["accept", "ping", "receive", "send"]
        assert isinstance(session.close_reason, ConnectionLost)


async def test_accepted_stream_keeps_data_after_hangup() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            session, peer = await raw_session(nursery)
            await peer.send(frame(WU, SYN, 1, 0))
            stream = await session.accept_stream()
            await peer.send(frame(DATA, 0, 1, 5, b"hello"), frame(WU, FIN, 1, 0))
            await trio.testing.wait_all_tasks_blocked()  # the session has read both frames
            await peer.stream.aclose()
            await session.wait_closed()
            assert await stream.receive_some() == b"hello"
            assert await stream.receive_some() == b""
            with pytest.raises(trio.BrokenResourceError):
                await stream.send_all(b"late")


@pytest.mark.parametrize(
    ("raw", "error"),
    [(frame(WU, SYN, 2, 0), StreamIdError), (b"\x05" + bytes(11), ValueError)],
)
async def test_protocol_violation_ends_run_quietly_with_go_away(
    raw: bytes, error: type[Exception]
) -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            session, peer = await raw_session(nursery)
            await peer.send(raw)
            assert await peer.expect(GO_AWAY, 0, 0) == (GO_AWAY, 0, 0, 1, b"")
            assert await peer.next_frame() is None  # then the transport is closed
            await session.wait_closed()
        assert isinstance(session.close_reason, error)


async def test_remote_go_away_error_code_ends_session() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            session, peer = await raw_session(nursery)
            await peer.send(frame(GO_AWAY, 0, 0, 2))
            await session.wait_closed()
        assert isinstance(session.close_reason, RemoteGoAway)


async def test_ping_answered_before_any_stream_and_no_unsolicited_acks() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            session, peer = await raw_session(nursery)
            assert await peer.next_frame() == (PING, SYN, 0, 0, b"")  # the RTT ping
            await peer.send(frame(PING, ACK, 0, 99), frame(PING, SYN, 0, 42))
            assert await peer.next_frame() == (PING, ACK, 0, 42, b"")
            await session.aclose()
            assert await peer.next_frame() == (GO_AWAY, 0, 0, 0, b"")
            assert await peer.next_frame() is None


async def test_keepalive_timeout_closes_session(autojump_clock: trio.testing.MockClock) -> None:
    config = YamuxConfig(keepalive_interval=30.0, keepalive_timeout=10.0)
    async with trio.open_nursery() as nursery:
        session, peer = await raw_session(nursery, config=config)
        start = trio.current_time()
        assert await peer.next_frame() == (PING, SYN, 0, 0, b"")
        await peer.send(frame(PING, ACK, 0, 0))
        assert await peer.next_frame() == (PING, SYN, 0, 1, b"")
        assert trio.current_time() - start == pytest.approx(30.0)
        await session.wait_closed()  # never answered
        assert trio.current_time() - start == pytest.approx(40.0)
    assert isinstance(session.close_reason, KeepAliveTimeout)


async def test_go_away_resets_late_syns_and_ends_accepting() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            session, peer = await raw_session(nursery)
            await peer.send(frame(WU, SYN, 1, 0))
            await trio.testing.wait_all_tasks_blocked()
            await session.go_away()
            await peer.expect(GO_AWAY, 0, 0)
            await peer.send(frame(WU, SYN, 3, 0))
            await peer.expect(WU, RST, 3)
            assert (await session.accept_stream()).stream_id == 1
            with pytest.raises(trio.EndOfChannel):
                await session.accept_stream()
            with pytest.raises(SessionClosed):
                await session.open_stream()
            await session.aclose()


async def test_open_stream_waits_for_acks_beyond_backlog() -> None:
    config = YamuxConfig(accept_backlog=2)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            session, peer = await raw_session(nursery, role=Role.INITIATOR, config=config)
            await session.open_stream()
            await session.open_stream()
            opened: list[int] = []

            async def open_third() -> None:
                opened.append((await session.open_stream()).stream_id)

            nursery.start_soon(open_third)
            await trio.testing.wait_all_tasks_blocked()
            assert opened == []
            await peer.send(frame(WU, ACK, 3, 0))
            await trio.testing.wait_all_tasks_blocked()
            assert opened == [5]
            await session.aclose()


async def test_local_stream_limit_is_typed() -> None:
    with trio.fail_after(10):
        async with session_pair(config=YamuxConfig(max_streams=2)) as (client, _server):
            await client.open_stream()
            await client.open_stream()
            with pytest.raises(LimitExceeded, match="local") as info:
                await client.open_stream()
            assert info.value.local


async def test_300_concurrent_streams_with_late_accepts() -> None:
    """More streams than the ACK backlog: the opener waits instead of failing."""
    config = YamuxConfig(max_streams=400)
    with trio.fail_after(30):
        async with session_pair(config=config) as (client, server):

            async def echo_server() -> None:
                async with trio.open_nursery() as handlers:
                    for _ in range(300):
                        handlers.start_soon(echo, await server.accept_stream())

            async def echo(stream: YamuxStream) -> None:
                while data := await stream.receive_some():
                    await stream.send_all(data)
                await stream.aclose()

            async def user(i: int) -> None:
                stream = await client.open_stream()
                message = b"%d" % i * 1000
                await stream.send_all(message)
                await stream.send_eof()
                got = bytearray()
                while data := await stream.receive_some():
                    got += data
                assert got == message
                await stream.aclose()

            async with trio.open_nursery() as nursery:
                for i in range(300):
                    nursery.start_soon(user, i)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(echo_server)


async def test_cancelled_run_closes_transport() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            session, peer = await raw_session(nursery)
            nursery.cancel_scope.cancel()
        assert session.is_closed
        await session.wait_closed()
        while await peer.next_frame() is not None:
            pass  # the transport was closed


async def test_run_twice_is_an_error() -> None:
    async with trio.open_nursery() as nursery:
        client, _server = await start_pair(nursery)
        with pytest.raises(RuntimeError):
            await client.run()
        nursery.cancel_scope.cancel()


async def test_receive_some_argument_checks() -> None:
    async with session_pair() as (client, _server):
        stream = await client.open_stream()
        with pytest.raises(ValueError, match="max_bytes"):
            await stream.receive_some(0)
        with pytest.raises(TypeError):
            await stream.receive_some(1.5)  # type: ignore[arg-type]
        await stream.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await stream.receive_some()
        with pytest.raises(trio.ClosedResourceError):
            await stream.send_eof()
