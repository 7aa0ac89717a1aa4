"""NetStream: a negotiated protocol stream on a connection, and its byte counts.

Bytes in and out by protocol are counted only on nodes whose metrics asked for them
(:func:`meter_traffic`, called by :class:`~p2pstack.host.metrics.NodeMetrics`): each
NetStream of such a node reads and writes through a :class:`StreamMeter` that adds the size
of every ``receive_some``/``send_all`` call to two plain integers (no Prometheus on the data
path). A closed stream's counts are folded into the node's :class:`Traffic` totals; the
metrics collector adds the open streams' counts when scraped. Other nodes pay one dictionary
lookup per stream.
"""

from __future__ import annotations

import weakref
from collections import Counter
from typing import TYPE_CHECKING

import trio

from p2pstack.abc.muxer import MuxedStream
from p2pstack.bufstream import BufferedStream
from p2pstack.role import Role
from p2pstack.stream_ops import Buffer, receive_is_cancel_safe

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection
    from p2pstack.host.resources import StreamScope
    from p2pstack.identity import PeerId


class StreamMeter(trio.abc.HalfCloseableStream):
    """Counts the bytes of one negotiated stream as they pass (a thin wrapper).

    Attributes:
        protocol: the stream's protocol id.
        received, sent: payload bytes after negotiation, read-ahead bytes included.
        connection: the stream's connection.
    """

    def __init__(self, stream: MuxedStream, protocol: str, connection: Connection) -> None:
        self.stream = stream
        self.protocol = protocol
        self.connection = connection
        self.received = 0
        self.sent = 0

    @property
    def cancel_safe_receive(self) -> bool:
        """As the stream below (see :func:`p2pstack.stream_ops.receive_is_cancel_safe`)."""
        return receive_is_cancel_safe(self.stream)

    async def send_all(self, data: Buffer) -> None:
        await self.stream.send_all(data)
        self.sent += len(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self.stream.send_eof()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.stream.receive_some(max_bytes)
        self.received += len(data)
        return data

    async def aclose(self) -> None:
        await self.stream.aclose()


class Traffic:
    """Bytes by protocol of one node: totals of closed streams plus the open streams' meters.

    ``received``/``sent`` map a protocol id to the bytes of its closed streams; :meth:`totals`
    adds the open ones. Meters of streams never closed are folded in once their connection
    has closed (:meth:`sweep`: at the next :meth:`totals`, and when the metrics see a
    connection close).
    """

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self._open: set[StreamMeter] = set()

    def track(self, meter: StreamMeter) -> None:
        """Count ``meter``'s stream from now on."""
        self._open.add(meter)

    def fold(self, meter: StreamMeter) -> None:
        """Move a finished stream's counts into the totals (idempotent)."""
        if meter in self._open:
            self._open.discard(meter)
            self.received[meter.protocol] += meter.received
            self.sent[meter.protocol] += meter.sent

    def sweep(self) -> None:
        """Fold the meters of streams whose connection has closed (never closed themselves)."""
        for meter in [m for m in self._open if m.connection.is_closed]:
            self.fold(meter)

    def totals(self) -> tuple[Counter[str], Counter[str]]:
        """(received, sent) bytes by protocol, open streams included."""
        self.sweep()
        received, sent = Counter(self.received), Counter(self.sent)
        for meter in self._open:
            received[meter.protocol] += meter.received
            sent[meter.protocol] += meter.sent
        return received, sent


_traffic: weakref.WeakKeyDictionary[object, Traffic] = weakref.WeakKeyDictionary()


def meter_traffic(node: object) -> Traffic:
    """Count bytes by protocol on ``node``'s streams opened from now on; its :class:`Traffic`
    (the same object on every call for one node)."""
    traffic = _traffic.get(node)
    if traffic is None:
        traffic = _traffic[node] = Traffic()
    return traffic


class NetStream(BufferedStream):
    """A muxed stream after protocol negotiation.

    It is a :class:`~p2pstack.bufstream.BufferedStream` (so length-prefixed helpers are at hand)
    that also knows its protocol id and its connection, and can be reset.

    Attributes:
        protocol: the negotiated protocol id.
        connection: the connection it runs on.
        role: ours on this stream: ``Role.INITIATOR`` if we opened it, ``Role.RESPONDER``
            if the peer did.
        muxed: the underlying muxed stream.
        scope: the stream's resource scope: reserve memory held for the peer from it.
        meter: the stream's byte counts when its node counts traffic (else None).
    """

    def __init__(
        self,
        stream: MuxedStream,
        protocol: str,
        connection: Connection,
        initial: bytes = b"",
        *,
        role: Role,
        scope: StreamScope,
    ) -> None:
        traffic = _traffic.get(connection.node) if _traffic else None
        self.meter: StreamMeter | None = None
        self._traffic = traffic
        if traffic is not None:
            self.meter = StreamMeter(stream, protocol, connection)
            self.meter.received = len(initial)
            traffic.track(self.meter)
        super().__init__(self.meter if self.meter is not None else stream, initial)
        self.muxed = stream
        self.protocol = protocol
        self.connection = connection
        self.role = role
        self.scope = scope
        self._released = False
        connection.stream_opened(self)

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self.scope.done()
            self.connection.stream_closed(self)

    def _fold_traffic(self) -> None:
        if self._traffic is not None and self.meter is not None:
            self._traffic.fold(self.meter)

    @property
    def remote_peer(self) -> PeerId:
        """The authenticated peer at the other end."""
        return self.connection.peer_id

    async def reset(self) -> None:
        """Abort the stream in both directions (the peer sees a reset, not EOF)."""
        self._release()
        try:
            await self.muxed.reset()
        finally:
            self._fold_traffic()

    async def aclose(self) -> None:
        """Close the stream (see the muxer's stream ``aclose``); counts stop at once."""
        self._release()
        try:
            await super().aclose()
        finally:
            self._fold_traffic()

    def __repr__(self) -> str:
        return f"<NetStream {self.protocol} with {self.connection.peer_id.short()}>"
