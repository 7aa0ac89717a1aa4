"""The relay's copy loop: batched copies keep every byte in order, in both directions, and
the data limit still cuts at its allowance."""

from __future__ import annotations

import os

import trio

from p2pstack.compose import open_node
from p2pstack.host.netstream import NetStream
from p2pstack.protocols.relay import RelayConfig, relay_server

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
ECHO = "/test/relay-echo/1.0.0"


async def echo(stream: NetStream) -> None:
    while data := await stream.receive_some():
        await stream.send_all(data)
    await stream.send_eof()


async def test_bulk_circuit_carries_every_byte_in_order() -> None:
    payload = os.urandom(6 << 20)
    service = relay_server(RelayConfig.bulk())
    async with (
        open_node(listen=[LOOPBACK], services=[service]) as relay,
        open_node() as listener,
        open_node() as dialer,
    ):
        listener.set_stream_handler(ECHO, echo)
        await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        target = next(a for a in listener.addrs if a.has_protocol("p2p-circuit"))
        conn = await dialer.dial(str(target))
        stream = await conn.new_stream(ECHO)
        received = bytearray()

        async def read_all() -> None:
            while data := await stream.receive_some():
                received.extend(data)

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_all)
                view = memoryview(payload)
                for start in range(0, len(payload), 300_001):  # writes across frame sizes
                    await stream.send_all(view[start : start + 300_001])
                await stream.send_eof()
        assert received == payload
        assert service.metrics.bytes_relayed >= 2 * len(payload)
        await stream.aclose()


async def test_data_limit_cuts_batched_copies_at_the_allowance() -> None:
    config = RelayConfig(circuit_data=200_000, copy_buffer=1 << 20)
    service = relay_server(config)
    async with (
        open_node(listen=[LOOPBACK], services=[service]) as relay,
        open_node() as listener,
        open_node() as dialer,
    ):
        got = 0
        done = trio.Event()

        async def sink(stream: NetStream) -> None:
            nonlocal got
            try:
                while data := await stream.receive_some():
                    got += len(data)
            except trio.BrokenResourceError:
                pass
            done.set()

        listener.set_stream_handler(ECHO, sink, allow_limited=True)
        await listener.listen(f"{relay.addrs[0]}/p2p-circuit")
        target = next(a for a in listener.addrs if a.has_protocol("p2p-circuit"))
        conn = await dialer.dial(str(target))
        stream = await conn.new_stream(ECHO, allow_limited=True)
        with trio.fail_after(30):
            try:
                for _ in range(64):
                    await stream.send_all(bytes(16 * 1024))
            except trio.BrokenResourceError:
                pass
            await done.wait()
        # The relayed connection's own Noise and Yamux bytes count against the limit too.
        assert 0 < got < 200_000
        assert service.metrics.circuit_ends["data_limit"] == 1
        assert service.metrics.bytes_relayed <= 2 * 200_000
