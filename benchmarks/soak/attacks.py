"""Hostile peers for the soak run, each a bounded loop that records what the target did.

Raw TCP attackers (they never complete a handshake):

* :func:`rst_loop`: connect, then close with SO_LINGER 0 (a RST), ``rate`` times a second;
* :func:`silent_pool`: ``size`` connections that send nothing; how long until the target
  drops each one (its handshake deadline) is recorded, then the slot reconnects;
* :func:`partial_handshake_pool`: like the silent pool, but each connection negotiates
  ``/noise`` with multistream-select and then sends half a Noise message.

Attackers with a real connection (an upgraded libp2p peer of their own):

* :func:`unread_streams`: open echo streams, write into them and never read the echo back;
* :func:`ping_flood`: back-to-back pings on several ping streams at once.

The raw attackers connect from given loopback source addresses (127.66.x.y): the target's
per-IP and per-subnet admission sees them apart from the honest peers on 127.0.0.1, as it
would see remote attackers. Every attacker runs until cancelled, holds at most its configured
number of sockets or streams, and counts into a :class:`~p2pstack.benchmarks.soak.stats.Counters`.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Final

import trio

from p2pstack.benchmarks.soak.stats import Counters, Series
from p2pstack.host.connection import Connection
from p2pstack.host.node import Node
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.echo import ECHO_PROTOCOL
from p2pstack.protocols.ping import PING_PROTOCOL

MULTISTREAM: Final = b"\x13/multistream/1.0.0\n"
NOISE: Final = b"\x07/noise\n"
HOLD_MAX: Final = 120.0
"""An attacker's connection the target never drops is closed by us after this long."""
_REFUSED: Final = (OSError, trio.BrokenResourceError, trio.ClosedResourceError)


async def _connect(host: str, port: int, source: str) -> trio.SocketStream:
    return await trio.open_tcp_stream(host, port, local_address=source)


async def rst_loop(host: str, port: int, source: str, rate: float, counters: Counters) -> None:
    """Connect from ``source`` and reset, ``rate`` times a second."""
    linger = struct.pack("ii", 1, 0)
    while True:
        try:
            stream = await _connect(host, port, source)
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            await stream.aclose()
            counters.add("rst_connects")
        except OSError:
            counters.add("rst_refused")
        await trio.sleep(1 / rate)


async def _held_until_dropped(stream: trio.SocketStream) -> float | None:
    """Read until the target closes ``stream``; the seconds that took, or None (HOLD_MAX)."""
    start = trio.current_time()
    with trio.move_on_after(HOLD_MAX):
        try:
            while await stream.receive_some(4096):
                pass
        except trio.BrokenResourceError:
            pass  # reset by the target: dropped as well
        return trio.current_time() - start
    return None


async def _pool(
    host: str,
    port: int,
    sources: list[str],
    size: int,
    counters: Counters,
    held: Series,
    name: str,
    payload: bool,
) -> None:
    async def slot(source: str) -> None:
        while True:
            try:
                stream = await _connect(host, port, source)
            except OSError:
                counters.add(f"{name}_refused")
                await trio.sleep(1.0)
                continue
            async with stream:
                counters.add(f"{name}_opened")
                seconds: float | None = 0.0
                try:
                    if payload:
                        await _half_noise(stream)
                    seconds = await _held_until_dropped(stream)
                except _REFUSED:
                    pass  # dropped while we were still talking: at once
                if seconds is None:
                    counters.add(f"{name}_never_dropped")
                else:
                    held.add(seconds)
            await trio.sleep(0.1)

    async with trio.open_nursery() as nursery:
        for index in range(size):
            nursery.start_soon(slot, sources[index % len(sources)])


async def _half_noise(stream: trio.SocketStream) -> None:
    """multistream-select ``/noise`` as a dialer would, then half of a Noise XX message 1."""
    await stream.send_all(MULTISTREAM + NOISE)
    answer = b""
    with trio.move_on_after(10):
        while len(answer) < len(MULTISTREAM + NOISE):
            chunk = await stream.receive_some(64)
            if not chunk:
                break
            answer += chunk
    await stream.send_all(struct.pack(">H", 32) + os.urandom(16))


async def silent_pool(
    host: str, port: int, sources: list[str], size: int, counters: Counters, held: Series
) -> None:
    """Keep ``size`` connections open (from ``sources`` in turn) that never send a byte."""
    await _pool(host, port, sources, size, counters, held, "silent", payload=False)


async def partial_handshake_pool(
    host: str, port: int, sources: list[str], size: int, counters: Counters, held: Series
) -> None:
    """Keep ``size`` connections (from ``sources`` in turn) stuck in the Noise handshake."""
    await _pool(host, port, sources, size, counters, held, "partial", payload=True)


async def unread_streams(
    node: Node, target: Multiaddr, streams: int, write: int, hold: float, counters: Counters
) -> None:
    """Repeatedly: open ``streams`` echo streams, write ``write`` bytes into each without
    reading the echo, keep them ``hold`` seconds, then drop the connection."""
    data = bytes(write)
    while True:
        try:
            conn = await node.dial(target)
            async with trio.open_nursery() as nursery:

                async def stuff(conn: Connection = conn) -> None:
                    stream = await conn.new_stream(ECHO_PROTOCOL)
                    counters.add("unread_streams")
                    with trio.move_on_after(hold):
                        await stream.send_all(data)
                        counters.add("unread_bytes", write)
                        await trio.sleep_forever()

                for _ in range(streams):
                    nursery.start_soon(stuff)
            await conn.aclose()
        except Exception as exc:  # a typed refusal by the target is a result, not a crash
            counters.add("unread_refused")
            counters.note("unread", exc)
        await trio.sleep(1.0)


async def ping_flood(
    node: Node, target: Multiaddr, streams: int, burst: float, pause: float, counters: Counters
) -> None:
    """Bursts of back-to-back pings on ``streams`` ping streams, ``burst`` seconds long."""
    payload = bytes(32)
    while True:
        try:
            conn = await node.dial(target)

            async def flood(conn: Connection = conn) -> None:
                stream = await conn.new_stream(PING_PROTOCOL)
                with trio.move_on_after(burst):
                    while True:
                        await stream.send_all(payload)
                        await stream.receive_exactly(32)
                        counters.add("flood_pings")
                await stream.aclose()

            async with trio.open_nursery() as nursery:
                for _ in range(streams):
                    nursery.start_soon(flood)
        except Exception as exc:  # refused streams/connections are what we measure
            counters.add("flood_refused")
            counters.note("flood", exc)
        await trio.sleep(pause)
