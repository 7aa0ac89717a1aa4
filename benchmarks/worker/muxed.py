"""Yamux without encryption: over an in-memory stream (in-process) and over plain TCP.

The TCP roles speak the sink protocol of the Go yamux peer (``tests/peers/go_yamux``), so
our sender and receiver can each be paired with HashiCorp's yamux.
"""

from __future__ import annotations

import trio
import trio.testing

from p2pstack.benchmarks.worker.common import Control, Params, emit, send_one, shares, sink_one
from p2pstack.benchmarks.worker.raw import listen_tcp
from p2pstack.muxers.yamux import YamuxConfig, YamuxSession, YamuxStream
from p2pstack.role import Role


def _config(params: Params) -> YamuxConfig:
    streams = max(256, int(params.get("streams", 1)) + 16)
    return YamuxConfig(max_streams=streams, accept_backlog=streams)


async def _sink_stream(stream: YamuxStream) -> None:
    async with stream:
        await sink_one(stream)


async def _serve_session(session: YamuxSession) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        while True:
            try:
                stream = await session.accept_stream()
            except trio.EndOfChannel:
                break
            nursery.start_soon(_sink_stream, stream)


async def _send_rounds(session: YamuxSession, params: Params) -> list[float]:
    """``repeat`` transfers of ``total`` bytes over ``streams`` new streams; MB/s each."""
    chunk = memoryview(bytes(params["write"]))
    total, streams = params["total"], params["streams"]

    async def one(share: int) -> None:
        stream = await session.open_stream()
        async with stream:
            await send_one(stream, share, chunk)

    samples: list[float] = []
    for _ in range(params["repeat"]):
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for share in shares(total, streams):
                nursery.start_soon(one, share)
        samples.append(total / (trio.current_time() - start) / 1e6)
    return samples


async def yamux_sink(params: Params, control: Control) -> None:
    """Listen on TCP; every connection is a yamux session whose streams are sinks."""
    config = _config(params)

    async def handle(stream: trio.SocketStream) -> None:
        await _serve_session(YamuxSession(stream, role=Role.RESPONDER, config=config))

    await listen_tcp(handle)


async def yamux_send(params: Params, control: Control) -> None:
    """Dial ``port`` and run the sink protocol over ``streams`` concurrent yamux streams."""
    tcp = await trio.open_tcp_stream("127.0.0.1", params["port"])
    session = YamuxSession(tcp, role=Role.INITIATOR, config=_config(params))
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        samples = await _send_rounds(session, params)
        await session.aclose()
    emit({"mb_s": samples})


async def yamux_memory(params: Params, control: Control) -> None:
    """Both yamux ends in this process over ``trio.testing.memory_stream_pair``."""
    left, right = trio.testing.memory_stream_pair()
    config = _config(params)
    client = YamuxSession(left, role=Role.INITIATOR, config=config)
    server = YamuxSession(right, role=Role.RESPONDER, config=config)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_serve_session, server)
        await nursery.start(client.run)
        samples = await _send_rounds(client, params)
        await client.aclose()
        nursery.cancel_scope.cancel()
    emit({"mb_s": samples})
