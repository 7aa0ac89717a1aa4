"""The trio adapter's bounds: ping answers, output queue, write timeout, dead peers, stream
release and memory, against peers that misbehave or vanish."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from p2pstack.muxers.yamux import (
    KeepAliveTimeout,
    WriteTimeout,
    YamuxConfig,
    YamuxSession,
    YamuxStream,
    write_path as write_path_module,
    yamux,
)
from p2pstack.role import Role
from tests.helpers.budget import CountingBudget
from tests.helpers.yamux import raw_session
from tests.helpers.yamux_core import ACK, FIN, GO_AWAY, PING, RST, SYN, WU, frame

MiB = 1024 * 1024


async def test_peer_that_pings_and_never_reads(autojump_clock: trio.testing.MockClock) -> None:
    left, right = trio.testing.lockstep_stream_pair()
    config = YamuxConfig(keepalive_interval=None, write_timeout=10.0)
    session = YamuxSession(left, role=Role.RESPONDER, config=config)
    count = 20_000
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        start = trio.current_time()
        # lockstep: returns once the session has read every ping; nobody reads its answers
        await right.send_all(b"".join(frame(PING, SYN, 0, n) for n in range(count)))
        assert session.is_closed is False
        assert count - 2 * 32 <= session.core.dropped_pongs <= count - 32
        assert session.write_path.out_bytes == 0  # answers wait in the core, at most ping_backlog
        await session.wait_closed()
    assert isinstance(session.close_reason, WriteTimeout)
    assert trio.current_time() - start == pytest.approx(10.0)


async def test_output_queue_is_bounded_when_the_peer_does_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(write_path_module, "OUTPUT_LIMIT", 6000)
    left, right = trio.testing.lockstep_stream_pair()
    session = YamuxSession(left, role=Role.RESPONDER)
    sent_syns = 0
    batch = 100

    async def flood() -> None:
        nonlocal sent_syns
        await right.send_all(frame(GO_AWAY, 0, 0, 0))
        for base in range(1, 200_000, 2 * batch):
            # each SYN after the peer's GoAway is answered with a 12-byte RST
            await right.send_all(
                b"".join(frame(WU, SYN, sid, 0) for sid in range(base, base + 2 * batch, 2))
            )
            sent_syns += batch

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            await nursery.start(session.run)
            nursery.start_soon(flood)
            await trio.testing.wait_all_tasks_blocked()
            assert 6000 <= session.write_path.out_bytes <= 6000 + 12 * batch
            assert sent_syns < 2 * 6000 // 12  # the reader paused: the flood is held back
            assert session.num_streams == 0
            nursery.cancel_scope.cancel()


async def test_silent_peer_is_released_within_20_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        session, peer = await raw_session(nursery)  # default config
        assert await peer.next_frame() == (PING, SYN, 0, 0, b"")
        await peer.send(frame(PING, ACK, 0, 0), frame(WU, SYN, 1, 0), frame(WU, SYN, 3, 0))
        streams = [await session.accept_stream(), await session.accept_stream()]
        vanished = trio.current_time()  # from now on the peer answers nothing
        await session.wait_closed()
    assert isinstance(session.close_reason, KeepAliveTimeout)
    assert trio.current_time() - vanished <= 20.0
    assert session.num_streams == 0
    assert all(s.record.reserved == 0 for s in streams)  # window memory released


class _SlowLink(trio.abc.Stream):
    """One side of a link that carries ``rate`` bytes per second."""

    def __init__(self, inner: trio.abc.Stream, rate: float) -> None:
        self._inner = inner
        self._rate = rate

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.sleep(len(data) / self._rate)
        await self._inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_bulk_transfer_on_a_slow_link_does_not_fail_keepalive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Our output holds seconds of data; pings and answers go ahead of it (between write
    pieces of at most 1 MiB), so a 2 s ping deadline holds although the queue takes longer
    than that to drain. (This link delivers each write whole after len/rate seconds, so a
    piece must take less than the deadline: 1 MB/s.)"""
    config = YamuxConfig(keepalive_interval=1.0, keepalive_timeout=2.0)
    left, right = trio.testing.memory_stream_pair()
    rate = 1_000_000.0
    client = YamuxSession(_SlowLink(left, rate), role=Role.INITIATOR, config=config)
    server = YamuxSession(_SlowLink(right, rate), role=Role.RESPONDER, config=config)
    payload = bytes(range(256)) * (12 * MiB // 256)
    received = bytearray()
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        await nursery.start(server.run)
        start = trio.current_time()

        done = trio.Event()

        async def receive(stream: YamuxStream) -> None:
            while chunk := await stream.receive_some():
                received.extend(chunk)
            done.set()

        sender = await client.open_stream()
        nursery.start_soon(receive, await server.accept_stream())
        await sender.send_all(payload)
        await sender.send_eof()
        await done.wait()
        assert trio.current_time() - start > 5 * config.keepalive_timeout
        assert client.close_reason is None
        assert server.close_reason is None
        await client.aclose()
        await server.aclose()
    assert received == payload


async def test_streams_closed_by_us_are_released_when_the_peer_never_finishes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = YamuxConfig(keepalive_interval=None, stream_close_timeout=30.0)
    async with trio.open_nursery() as nursery:
        session, peer = await raw_session(nursery, role=Role.INITIATOR, config=config)
        await peer.send(frame(PING, ACK, 0, 0))
        streams = [await session.open_stream() for _ in range(256)]
        await peer.send(*(frame(WU, ACK, s.stream_id, 0) for s in streams))
        start = trio.current_time()
        for stream in streams:
            await stream.aclose()
            await peer.expect(WU, FIN, stream.stream_id)
        assert session.core.num_open_streams == 0  # lingering: no max_streams slot held
        for stream in streams:  # the peer never sends FIN: reset after the close timeout
            await peer.expect(WU, RST, stream.stream_id)
        assert trio.current_time() - start == pytest.approx(30.0)
        assert session.num_streams == 0
        await session.open_stream()
        await session.aclose()


async def test_syn_after_the_peers_go_away_is_reset() -> None:
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            session, peer = await raw_session(nursery)
            await peer.send(frame(GO_AWAY, 0, 0, 0), frame(WU, SYN, 1, 0))
            await peer.expect(WU, RST, 1)
            assert session.num_streams == 0
            with pytest.raises(trio.EndOfChannel):
                await session.accept_stream()
            await session.aclose()


async def test_memory_budget_is_released_after_streams_and_session_end() -> None:
    budget = CountingBudget()
    left, right = trio.testing.memory_stream_pair()
    client = YamuxSession(left, role=Role.INITIATOR)
    server = yamux().new_session(right, role=Role.RESPONDER, memory=budget)
    assert isinstance(server, YamuxSession)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(client.run)
            await nursery.start(server.run)
            for _ in range(3):
                stream = await client.open_stream()

                async def upload(stream: YamuxStream) -> None:
                    await stream.send_all(bytes(2 * MiB))
                    await stream.send_eof()

                nursery.start_soon(upload, stream)
                accepted = await server.accept_stream()
                while await accepted.receive_some():
                    pass
                assert budget.reserved >= 256 * 1024
                await accepted.aclose()
                assert await stream.receive_some() == b""
                await stream.aclose()
                assert budget.reserved == 0
            await client.open_stream()
            await trio.testing.wait_all_tasks_blocked()
            assert budget.reserved == 256 * 1024
            await client.aclose()
            await server.wait_closed()
    assert budget.reserved == 0
    assert budget.peak > 256 * 1024  # the windows grew while reading


async def test_memory_held_for_a_peer_that_floods_streams_stays_within_the_budget() -> None:
    budget = CountingBudget(limit=4 * 256 * 1024 + 1000)
    left, right = trio.testing.memory_stream_pair()
    client = YamuxSession(left, role=Role.INITIATOR)
    server = YamuxSession(right, role=Role.RESPONDER, memory=budget)
    outcomes: list[str] = []

    async def flood(stream: YamuxStream) -> None:
        try:
            while True:
                await stream.send_all(bytes(64 * 1024))
        except trio.BrokenResourceError:
            outcomes.append("reset")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(client.run)
            await nursery.start(server.run)
            for _ in range(8):
                nursery.start_soon(flood, await client.open_stream())
            await trio.testing.wait_all_tasks_blocked()
            accepted = [await server.accept_stream() for _ in range(4)]
            await trio.testing.wait_all_tasks_blocked()
            assert outcomes == ["reset"] * 4  # no memory for their windows
            assert budget.reserved == 4 * 256 * 1024
            assert sum(s.record.buffered for s in accepted) == 4 * 256 * 1024
            await client.aclose()
            await server.wait_closed()
    assert budget.reserved == 0
