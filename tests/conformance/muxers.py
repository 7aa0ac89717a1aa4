"""The stream muxers the muxer suite runs over, each built by one factory.

A factory yields a :class:`MuxerUnderTest`: the muxer (a ``StreamMuxer``), how to connect two
raw streams for it, and how to fill a fresh stream pair's windows both ways (for trio's
clogged checks and the flow-control test).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio
import trio.testing

from p2pstack.abc.muxer import MuxedSession, MuxedStream, StreamMuxer
from p2pstack.muxers.yamux import YamuxConfig, YamuxStream, yamux
from p2pstack.role import Role
from tests.helpers.yamux import PairMaker, memory_pair, tcp_pair

WINDOW = 256 * 1024
"""Yamux's initial window; auto-tuning is off (max_window) so that it stays fixed."""


@dataclass(frozen=True)
class MuxerUnderTest:
    muxer: StreamMuxer
    raw_pair: PairMaker
    window: int
    """Bytes one stream can send before the receiver reads (flow control)."""
    clog: Callable[[MuxedStream, MuxedStream], Awaitable[None]]
    """Fill both directions of a fresh stream pair so that sends block."""

    async def start(self, nursery: trio.Nursery) -> tuple[MuxedSession, MuxedSession]:
        """Two running sessions over a fresh raw pair: (initiator, responder)."""
        left, right = await self.raw_pair()
        client = self.muxer.new_session(left, role=Role.INITIATOR)
        server = self.muxer.new_session(right, role=Role.RESPONDER)
        await nursery.start(client.run)
        await nursery.start(server.run)
        return client, server


async def _clog_yamux(s1: MuxedStream, s2: MuxedStream) -> None:
    """Use up both send windows (nobody reads yet), then wait until both arrived."""
    assert isinstance(s1, YamuxStream)
    assert isinstance(s2, YamuxStream)
    await s1.send_all(bytes(WINDOW))
    await s2.send_all(bytes(WINDOW))
    while s1.record.buffered < WINDOW or s2.record.buffered < WINDOW:
        await trio.testing.wait_all_tasks_blocked()


def _yamux(raw_pair: PairMaker) -> MuxerUnderTest:
    return MuxerUnderTest(
        muxer=yamux(YamuxConfig(max_window=WINDOW)),
        raw_pair=raw_pair,
        window=WINDOW,
        clog=_clog_yamux,
    )


MUXERS: dict[str, Callable[[], MuxerUnderTest]] = {
    "yamux-memory": lambda: _yamux(memory_pair),
    "yamux-tcp": lambda: _yamux(tcp_pair),
}
"""Every muxer we ship, over in-memory streams and over TCP, by test id."""
