"""Lazy (optimistic) multistream-select for a dialer with exactly one protocol (V1Lazy).

The bytes on the wire are those of a normal negotiation; only the timing differs. The header
and the proposal go out together with the first application write (or, if the caller reads,
sends EOF or negotiates first, on their own), and the listener's header and echo are read
and checked on the first read.

What the writer sees if the listener refuses: writes keep succeeding while the refusal is in
flight (the listener discards those bytes, then usually closes or resets the stream, which
may surface as ``trio.BrokenResourceError``). The first read raises
:class:`~p2pstack.errors.NegotiationFailed`; from then on every read re-raises it and every
write raises ``trio.BrokenResourceError`` whose ``__cause__`` is it.
"""

from __future__ import annotations

from typing import final

import trio

from p2pstack.bufstream import BufferedStream
from p2pstack.conflict import ConflictDetector
from p2pstack.errors import NegotiationFailed, ProtocolError
from p2pstack.multistream.core import MultistreamDialer
from p2pstack.multistream.negotiate import (
    DEFAULT_TIMEOUT,
    as_buffered,
    logger,
    negotiation_deadline,
)
from p2pstack.stream_ops import checked_max_bytes


@final
class LazyNegotiatedStream(trio.abc.HalfCloseableStream):
    """A stream that negotiates ``protocol`` lazily; usable for writing at once.

    Args:
        stream: the raw stream (reused if it already is a ``BufferedStream``).
        protocol: the single protocol to select.
        timeout: seconds allowed for reading the listener's answer; ``None`` for no limit.

    Raises:
        InvalidConfigError: ``protocol`` is not a valid protocol id.

    ``receive_some`` raises, besides trio's errors, ``NegotiationFailed`` (refused, or the
    listener closed the stream before answering), ``NegotiationTimeout`` and ``ProtocolError``
    subclasses (garbage answers), all sticky.
    """

    def __init__(
        self, stream: trio.abc.Stream, protocol: str, *, timeout: float | None = DEFAULT_TIMEOUT
    ) -> None:
        self._dialer = MultistreamDialer([protocol])
        self.protocol = protocol
        self._timeout = timeout
        self._stream = as_buffered(stream)
        self._handshake = self._dialer.data_to_send()
        self._send_lock = trio.Lock()
        self._send_guard = ConflictDetector("another task is sending on this stream")
        self._receive_guard = ConflictDetector("another task is receiving on this stream")
        self._error: NegotiationFailed | ProtocolError | None = None
        self._closed = False

    @property
    def negotiated(self) -> bool:
        """True once the listener's echo has been read and checked."""
        return self._dialer.done

    @property
    def stream(self) -> BufferedStream:
        """The buffered stream underneath (holds bytes read ahead after the echo)."""
        return self._stream

    def unwrapped(self) -> trio.abc.Stream:
        """The stream below once the answer was read and no read-ahead bytes are left (use
        it directly from then on), else this stream."""
        return unwrap_negotiated(self)

    async def negotiate(self) -> None:
        """Finish the negotiation now instead of on the first read.

        Raises:
            The errors :meth:`receive_some` raises during negotiation.
        """
        with self._receive_guard:
            self._check_open()
            await self._negotiate()

    async def _flush_handshake(self) -> None:
        if not self._handshake:
            return
        async with self._send_lock:
            handshake, self._handshake = self._handshake, b""
            if handshake:
                await self._stream.send_all(handshake)

    async def _negotiate(self) -> None:
        if self._error is not None:
            raise self._error
        if self._dialer.done:
            return
        await self._flush_handshake()
        try:
            with negotiation_deadline(self._timeout, f"answer to lazy {self.protocol}"):
                while not self._dialer.done:
                    data = await self._stream.receive_some()
                    self._dialer.receive_data(data if data else None)
        except (NegotiationFailed, ProtocolError) as exc:
            logger.debug("lazy multistream selection of %s failed: %s", self.protocol, exc)
            self._error = exc
            raise
        if self._dialer.trailing_data:
            self._stream.unread(self._dialer.trailing_data)
        logger.debug("multistream selected %s (lazy dialer)", self.protocol)

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the stream is closed")

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        with self._send_guard:
            self._check_open()
            if self._error is not None:
                raise trio.BrokenResourceError("multistream negotiation failed") from self._error
            async with self._send_lock:
                handshake, self._handshake = self._handshake, b""
                await self._stream.send_all(handshake + bytes(data) if handshake else data)

    async def wait_send_all_might_not_block(self) -> None:
        with self._send_guard:
            self._check_open()
            await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        with self._send_guard:
            self._check_open()
            await self._flush_handshake()
            await self._stream.send_eof()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        max_bytes = checked_max_bytes(max_bytes)
        with self._receive_guard:
            self._check_open()
            await self._negotiate()
            return await self._stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        self._closed = True
        await self._stream.aclose()


def unwrap_negotiated(stream: trio.abc.Stream) -> trio.abc.Stream:
    """The stream under finished negotiation wrappers holding no read-ahead bytes.

    A :class:`LazyNegotiatedStream` whose answer was read and a :class:`BufferedStream`
    with an empty buffer add nothing once negotiation is over: layers built on top read and
    write the stream below directly (one layer less per call, and its fast paths).
    """
    if isinstance(stream, LazyNegotiatedStream) and stream.negotiated:
        stream = stream.stream
    if isinstance(stream, BufferedStream) and not stream.buffered:
        stream = stream.stream
    return stream
