"""A hand-driven Yamux client over a real Noise session: the attacker writes the frames
itself (SYN floods, pings it never reads the answers to, streams after its own GoAway) on
top of our own TCP dial, multistream-select and Noise handshake.

The client is the initiator, so its stream ids are odd. Nothing is read unless the caller
asks (:meth:`RawYamux.drain` or :meth:`RawYamux.read_headers`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import trio

from p2pstack.bufstream import BufferedStream
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.multistream import encode_message, select_protocol
from p2pstack.muxers.yamux import PROTOCOL_ID as YAMUX_PROTOCOL
from p2pstack.muxers.yamux.frames import (
    DEFAULT_WINDOW,
    HEADER_SIZE,
    Flag,
    FrameType,
    Header,
    decode_header,
    encode_header,
)
from p2pstack.security.noise import noise
from p2pstack.transports.tcp import tcp

from .raw import MULTISTREAM_HEADER

NEGOTIATE_TIMEOUT: Final = 10.0
STREAM_WINDOW: Final = DEFAULT_WINDOW
"""Bytes a fresh stream may carry before the victim grants more (the spec's 256 KiB)."""


def frame(kind: FrameType, flags: Flag, stream_id: int, length: int, payload: bytes = b"") -> bytes:
    """One Yamux frame (``length`` is the payload size for Data frames)."""
    return encode_header(kind, flags, stream_id, length) + payload


def open_stream_frame(
    stream_id: int, protocol: str, payload: bytes = b"", *, fin: bool = False
) -> bytes:
    """A Data|SYN frame that opens ``stream_id``, proposes ``protocol`` without waiting for
    the answer (multistream header and proposal up front) and carries ``payload``."""
    body = MULTISTREAM_HEADER + encode_message(protocol) + payload
    flags = Flag.SYN | (Flag.FIN if fin else Flag.NONE)
    return frame(FrameType.DATA, flags, stream_id, len(body), body)


def negotiation_overhead(protocol: str) -> int:
    """Bytes :func:`open_stream_frame` puts before the payload."""
    return len(MULTISTREAM_HEADER + encode_message(protocol))


class RawYamux:
    """An established Noise session on which the caller writes raw Yamux frames."""

    def __init__(self, stream: BufferedStream, identity: Identity) -> None:
        self.stream = stream
        self.identity = identity
        self._next_id = 1
        self._send_lock = trio.Lock()

    def next_stream_id(self) -> int:
        """A fresh odd stream id."""
        sid = self._next_id
        self._next_id += 2
        return sid

    async def send(self, data: bytes | bytearray) -> None:
        """Encrypt and send ``data`` (any number of frames); concurrent calls take turns."""
        async with self._send_lock:
            await self.stream.send_all(data)

    async def drain(self) -> int:
        """Read and discard everything until the victim closes; returns the bytes read."""
        total = 0
        try:
            while chunk := await self.stream.receive_some(65536):
                total += len(chunk)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        return total

    async def read_headers(self) -> AsyncIterator[Header]:
        """Yield each frame header the victim sends (Data payloads skipped) until it closes."""
        buffer = bytearray()
        skip = 0
        try:
            while chunk := await self.stream.receive_some(65536):
                buffer += chunk
                while True:
                    if skip:
                        taken = min(skip, len(buffer))
                        del buffer[:taken]
                        skip -= taken
                        if skip:
                            break
                    if len(buffer) < HEADER_SIZE:
                        break
                    header = decode_header(buffer)
                    del buffer[:HEADER_SIZE]
                    if header.type is FrameType.DATA:
                        skip = header.length
                    yield header
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


async def close_all(clients: list[RawYamux]) -> None:
    """Close every client, even inside a cancelled scope."""
    with trio.CancelScope(shield=True):
        for client in clients:
            await client.aclose()


async def flood_raw_clients(
    target: Multiaddr,
    count: int,
    job: Callable[[RawYamux], Awaitable[object]],
    established: trio.Event,
    *,
    drain: bool = False,
) -> None:
    """Connect ``count`` raw clients to ``target``, run ``job`` on each concurrently, set
    ``established``, then hold the connections until cancelled. With ``drain`` every client
    reads and discards what the victim sends (by default nothing is read: the victim's
    answers pile up on its side)."""
    clients = [await connect_raw_yamux(target) for _ in range(count)]
    try:
        async with trio.open_nursery() as nursery:
            if drain:
                for client in clients:
                    nursery.start_soon(client.drain)
            async with trio.open_nursery() as workers:
                for client in clients:
                    workers.start_soon(job, client)
            established.set()
            await trio.sleep_forever()
    finally:
        await close_all(clients)


async def connect_raw_yamux(addr: Multiaddr, identity: Identity | None = None) -> RawYamux:
    """Dial ``addr`` (loopback TCP), negotiate /noise, handshake as a fresh (or given)
    identity, negotiate /yamux/1.0.0 and hand over the secured stream."""
    identity = identity or Identity.generate()
    raw = await tcp().dial(addr.without_peer_id())
    try:
        _, negotiated = await select_protocol(raw.stream, ["/noise"], timeout=NEGOTIATE_TIMEOUT)
        secure = await noise().secure_outbound(negotiated, identity, addr.peer_id())
        _, muxed = await select_protocol(secure, [YAMUX_PROTOCOL], timeout=NEGOTIATE_TIMEOUT)
    except BaseException:
        await trio.aclose_forcefully(raw.stream)
        raise
    return RawYamux(muxed, identity)
