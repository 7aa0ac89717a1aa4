"""A read-buffering stream wrapper that keeps bytes read ahead for the next layer.

Negotiating layers (multistream-select, handshakes, length-prefixed protocols) read whole
messages and may receive bytes that belong to whatever runs next. :class:`BufferedStream`
keeps those bytes and serves them first, so no layer ever loses data (h11's
``trailing_data`` pattern, done once for every layer).
"""

from __future__ import annotations

from typing import Final

import trio

from p2pstack.conflict import ConflictDetector
from p2pstack.errors import MessageTooLarge, UnexpectedEOF
from p2pstack.stream_ops import checked_max_bytes
from p2pstack.varint import MAX_VARINT_LEN, decode_uvarint, length_prefixed

DEFAULT_READ_SIZE: Final = 65536


async def send_length_prefixed(
    stream: trio.abc.SendStream, payload: bytes | bytearray | memoryview
) -> None:
    """Send one ``uvarint(len) || payload`` message in a single ``send_all``: the sending side
    of :meth:`BufferedStream.receive_length_prefixed`."""
    await stream.send_all(length_prefixed(payload))


class BufferedStream(trio.abc.HalfCloseableStream):
    """Wraps a stream; reads are served from a local buffer first.

    Sending, ``send_eof`` and closing pass straight through; ``send_eof`` on a wrapped stream
    that cannot half-close closes it, the only way to end its sending side.
    """

    def __init__(self, stream: trio.abc.Stream, initial: bytes = b"") -> None:
        self.stream = stream
        self._buffer = bytearray(initial)
        self._receive_conflict = ConflictDetector("another task is receiving on this stream")
        self._eof = False

    @property
    def buffered(self) -> int:
        """How many read-ahead bytes are waiting in the buffer."""
        return len(self._buffer)

    def unwrapped(self) -> trio.abc.Stream:
        """The stream below once no read-ahead bytes are left (a layer on top may then read
        and write it directly, with its fast paths), else this wrapper.

        The caller must be the only reader (see :func:`p2pstack.stream_ops.unwrap_method_of`).
        """
        if self._buffer or self._eof:
            return self
        return self.stream

    def unread(self, data: bytes | bytearray | memoryview) -> None:
        """Put ``data`` back in front of the buffer; the next read returns it first."""
        self._buffer[:0] = data

    def take_buffer(self) -> bytes:
        """Remove and return every buffered byte (to hand them to another reader)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        if isinstance(self.stream, trio.abc.HalfCloseableStream):
            await self.stream.send_eof()
        else:
            await self.stream.aclose()

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Return buffered bytes first; with an empty buffer, the wrapped stream's result
        as is (``bytes`` or ``bytearray``, no copy)."""
        max_bytes = checked_max_bytes(max_bytes)
        with self._receive_conflict:
            if self._buffer:
                await trio.lowlevel.checkpoint()
                n = len(self._buffer) if max_bytes is None else min(max_bytes, len(self._buffer))
                data = bytes(self._buffer[:n])
                del self._buffer[:n]
                return data
            return await self.stream.receive_some(max_bytes)

    async def _fill(self, min_size: int) -> None:
        """Read until at least ``min_size`` bytes are buffered; UnexpectedEOF otherwise."""
        while len(self._buffer) < min_size:
            chunk = await self.stream.receive_some(
                max(DEFAULT_READ_SIZE, min_size - len(self._buffer))
            )
            if not chunk:
                self._eof = True
                raise UnexpectedEOF(
                    f"stream ended after {len(self._buffer)} of {min_size} expected bytes"
                )
            self._buffer += chunk

    async def receive_exactly(self, size: int) -> bytes:
        """Receive exactly ``size`` bytes.

        Raises:
            UnexpectedEOF: the stream ended first (the partial bytes stay buffered).
        """
        with self._receive_conflict:
            await self._fill(size)
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
            return data

    async def receive_uvarint(self) -> int:
        """Receive one unsigned varint. Raises VarintError or UnexpectedEOF."""
        with self._receive_conflict:
            while True:
                head = decode_uvarint(self._buffer)
                if head is not None:
                    value, end = head
                    del self._buffer[:end]
                    return value
                await self._fill(min(len(self._buffer) + 1, MAX_VARINT_LEN))

    async def receive_length_prefixed(self, max_size: int) -> bytes:
        """Receive one ``uvarint(len) || payload`` message of at most ``max_size`` bytes.

        The size is checked before the payload is read, so a hostile prefix cannot make us
        allocate or wait for more than ``max_size`` bytes.

        Raises:
            MessageTooLarge, VarintError, UnexpectedEOF.
        """
        length = await self.receive_uvarint()
        if length > max_size:
            raise MessageTooLarge(f"message of {length} bytes exceeds the limit of {max_size}")
        return await self.receive_exactly(length)

    async def receive_until_eof(self, max_size: int) -> bytes:
        """Receive everything until EOF, at most ``max_size`` bytes.

        Raises:
            MessageTooLarge: more than ``max_size`` bytes arrived before EOF.
        """
        with self._receive_conflict:
            while True:
                if len(self._buffer) > max_size:
                    raise MessageTooLarge(f"more than {max_size} bytes before end of stream")
                chunk = await self.stream.receive_some(
                    max(1, min(DEFAULT_READ_SIZE, max_size + 1 - len(self._buffer)))
                )
                if not chunk:
                    return self.take_buffer()
                self._buffer += chunk
