"""The stream muxers the muxer suite runs over, each built by one factory.

A factory yields a :class:`MuxerUnderTest`: the muxer (a ``StreamMuxer``), how to connect two
raw streams for it, and how to fill a fresh stream pair's windows both ways (for trio's
clogged checks and the flow-control test). QUIC multiplexes by itself: its ``starter``
connects two QUIC endpoints and returns their sessions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio
import trio.testing

from p2pstack.abc.budget import UNLIMITED
from p2pstack.abc.muxer import MuxedSession, MuxedStream, StreamMuxer
from p2pstack.abc.transport import SecuredMuxed
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.muxers.yamux import YamuxConfig, YamuxStream, yamux
from p2pstack.role import Role
from p2pstack.transports.quic import QuicConfig, QuicStream, quic
from tests.helpers.yamux import PairMaker, memory_pair, tcp_pair

WINDOW = 256 * 1024
"""Yamux's initial window; auto-tuning is off (max_window) so that it stays fixed."""


Starter = Callable[[trio.Nursery], Awaitable[tuple[MuxedSession, MuxedSession]]]


@dataclass(frozen=True)
class MuxerUnderTest:
    muxer: StreamMuxer | None
    raw_pair: PairMaker | None
    window: int
    """Bytes one stream can send before the receiver reads (flow control)."""
    clog: Callable[[MuxedStream, MuxedStream], Awaitable[None]]
    """Fill both directions of a fresh stream pair so that sends block."""
    starter: Starter | None = None
    """For a transport that multiplexes itself (QUIC): makes the two running sessions."""

    async def start(self, nursery: trio.Nursery) -> tuple[MuxedSession, MuxedSession]:
        """Two running sessions over a fresh raw pair: (initiator, responder)."""
        if self.starter is not None:
            return await self.starter(nursery)
        assert self.muxer is not None
        assert self.raw_pair is not None
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


QUIC_WINDOW = 64 * 1024
"""The QUIC stream window the suite runs with (the connection window is 16 of them)."""


async def start_quic(
    nursery: trio.Nursery, config: QuicConfig | None = None
) -> tuple[MuxedSession, MuxedSession]:
    """A QUIC connection over 127.0.0.1: the (dialler, listener) sessions, running; the
    listener serves on in ``nursery``."""
    config = config or QuicConfig(stream_window=QUIC_WINDOW, connection_window=16 * QUIC_WINDOW)
    client_id, server_id = Identity.generate(), Identity.generate()
    listener = await quic(config, identity=server_id).listen(
        Multiaddr("/ip4/127.0.0.1/udp/0/quic-v1")
    )
    send, receive = trio.open_memory_channel[MuxedSession](1)

    async def serve() -> None:
        try:
            raw = await listener.accept()
            assert raw.secured_muxed is not None
            nursery.start_soon(upgrade, raw.secured_muxed)
            while True:
                await listener.accept()
        finally:
            with trio.CancelScope(shield=True):
                await listener.aclose()

    async def upgrade(pre: SecuredMuxed) -> None:
        secure = await pre.secure(None)
        assert secure.remote_peer == client_id.peer_id
        session = pre.new_session(role=Role.RESPONDER, memory=UNLIMITED)
        await nursery.start(session.run)
        await send.send(session)

    nursery.start_soon(serve)
    raw = await quic(config, identity=client_id).dial(listener.listen_addrs[0])
    assert raw.secured_muxed is not None
    await raw.secured_muxed.secure(server_id.peer_id)
    client = raw.secured_muxed.new_session(role=Role.INITIATOR, memory=UNLIMITED)
    await nursery.start(client.run)
    return client, await receive.receive()


async def _clog_quic(s1: MuxedStream, s2: MuxedStream) -> None:
    """Use up both stream windows (nobody reads yet), then wait until both arrived."""
    assert isinstance(s1, QuicStream)
    assert isinstance(s2, QuicStream)
    await s1.send_all(bytes(QUIC_WINDOW))
    await s2.send_all(bytes(QUIC_WINDOW))
    with trio.fail_after(10):
        while s1.buffered < QUIC_WINDOW or s2.buffered < QUIC_WINDOW:
            await trio.testing.wait_all_tasks_blocked(cushion=0.001)


def _quic() -> MuxerUnderTest:
    return MuxerUnderTest(
        muxer=None, raw_pair=None, window=QUIC_WINDOW, clog=_clog_quic, starter=start_quic
    )


MUXERS: dict[str, Callable[[], MuxerUnderTest]] = {
    "yamux-memory": lambda: _yamux(memory_pair),
    "yamux-tcp": lambda: _yamux(tcp_pair),
    "quic": _quic,
}
"""Every muxer we ship, over in-memory streams and over TCP, by test id."""
