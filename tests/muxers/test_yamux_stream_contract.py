"""YamuxStream passes trio's generic HalfCloseableStream checks (memory and TCP)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from p2pstack.abc.muxer import MuxedStream
from p2pstack.muxers.yamux import YamuxConfig, YamuxStream
from tests.muxers.yamux_helpers import PairMaker, memory_pair, start_pair, tcp_pair

# No auto-tuning: the clogged maker relies on a fixed 256 KiB window.
FIXED_WINDOW = YamuxConfig(max_window=256 * 1024)


async def _stream_pair(
    nursery: trio.Nursery, make_pair: PairMaker, config: YamuxConfig | None = None
) -> tuple[YamuxStream, YamuxStream]:
    client, server = await start_pair(nursery, make_pair, config)
    s1 = await client.open_stream()
    s2 = await server.accept_stream()
    return s1, s2


async def _clog(s1: YamuxStream, s2: YamuxStream) -> None:
    """Use up both send windows (nobody reads yet) so send_all blocks either way."""
    await s1.send_all(bytes(256 * 1024))
    await s2.send_all(bytes(256 * 1024))
    while s1.record.buffered < 256 * 1024 or s2.record.buffered < 256 * 1024:
        await trio.testing.wait_all_tasks_blocked()


@pytest.mark.parametrize("make_pair", [memory_pair, tcp_pair], ids=["memory", "tcp"])
async def test_check_half_closeable_stream(make_pair: PairMaker) -> None:
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:

            async def maker() -> tuple[trio.abc.HalfCloseableStream, trio.abc.HalfCloseableStream]:
                s1, s2 = await _stream_pair(nursery, make_pair, FIXED_WINDOW)
                assert isinstance(s1, MuxedStream)
                return s1, s2

            async def clogged_maker() -> tuple[
                trio.abc.HalfCloseableStream, trio.abc.HalfCloseableStream
            ]:
                s1, s2 = await _stream_pair(nursery, make_pair, FIXED_WINDOW)
                await _clog(s1, s2)
                return s1, s2

            await trio.testing.check_half_closeable_stream(maker, clogged_maker)
            nursery.cancel_scope.cancel()


async def test_many_streams_share_one_session_through_the_checks() -> None:
    """The checks also pass when all stream pairs live in one session."""
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            client, server = await start_pair(nursery, memory_pair, FIXED_WINDOW)

            async def maker() -> tuple[trio.abc.HalfCloseableStream, trio.abc.HalfCloseableStream]:
                s1 = await client.open_stream()
                return s1, await server.accept_stream()

            await trio.testing.check_half_closeable_stream(maker, None)
            assert client.num_streams == server.num_streams
            nursery.cancel_scope.cancel()
