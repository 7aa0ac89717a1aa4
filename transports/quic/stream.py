"""A QUIC bidirectional stream as a :class:`~p2pstack.abc.muxer.MuxedStream`."""

from __future__ import annotations

import operator
from typing import ClassVar, Final, Protocol, final

import trio

from p2pstack.abc.muxer import MuxedStream
from p2pstack.conflict import ConflictDetector
from p2pstack.errors import ProtocolError
from p2pstack.transports.quic.core import Libp2pQuicConnection

DEFAULT_RECEIVE_SIZE: Final = 256 * 1024
"""``receive_some()`` without ``max_bytes`` returns at most this much."""
RESET_CODE: Final = 0
"""The application error code of our RESET_STREAM and STOP_SENDING frames."""


class StreamReset(ProtocolError):
    """The peer reset the stream (``error_code`` is its QUIC application error code)."""

    def __init__(self, message: str, *, error_code: int) -> None:
        super().__init__(message)
        self.error_code = error_code


class StreamHost(Protocol):
    """What a stream needs of its connection (:class:`~.session.QuicSession`)."""

    @property
    def quic(self) -> Libp2pQuicConnection: ...

    def kick(self) -> None:
        """Something was queued on the connection: send it."""

    async def wait_progress(self) -> None:
        """Wait until the connection sent or received something (or ended)."""

    def stream_closed(self, stream: QuicStream) -> None:
        """``stream`` is closed on our side; forget it."""


@final
class QuicStream(MuxedStream):
    """One QUIC bidirectional stream.

    ``send_eof`` sends FIN; ``aclose`` sends FIN and, if the peer's side is still open,
    STOP_SENDING (the peer's writes then fail); ``reset`` sends RESET_STREAM and
    STOP_SENDING. ``send_all`` returns once the bytes are in packets (the peer's stream
    window and congestion control hold it back). A received RESET_STREAM or STOP_SENDING,
    or the connection's end, make methods raise ``trio.BrokenResourceError`` (the cause in
    ``__cause__``).
    """

    cancel_safe_receive: ClassVar[bool] = True
    """A cancelled receive takes nothing out of the stream's buffer."""

    def __init__(self, host: StreamHost, stream_id: int) -> None:
        self._host = host
        self._id = stream_id
        self._buffer = bytearray()
        self._eof = False
        self._broken: BaseException | None = None
        self._stopped: BaseException | None = None
        self._closed = False
        self._write_closed = False
        self._changed = trio.Event()
        self._sending = ConflictDetector("another task is sending on this QUIC stream")
        self._receiving = ConflictDetector("another task is receiving on this QUIC stream")

    def __repr__(self) -> str:
        return f"<QuicStream {self._id} closed={self._closed} eof={self._eof}>"

    @property
    def stream_id(self) -> int:
        """The QUIC stream id (ids % 4 == 0: opened by the client, 1: by the server)."""
        return self._id

    @property
    def buffered(self) -> int:
        """Received bytes not read yet."""
        return len(self._buffer)

    # -- called by the connection --------------------------------------------------------
    def on_data(self, data: bytes, end_stream: bool) -> None:
        """Bytes (and maybe FIN) arrived."""
        if not self._closed:
            self._buffer += data
        else:  # we no longer read: credit it so the peer is not stuck
            self._host.quic.consume(self._id, len(data))
        self._eof = self._eof or end_stream
        self._wake()

    def on_reset(self, error_code: int) -> None:
        """The peer sent RESET_STREAM."""
        if self._broken is None:
            self._broken = StreamReset(
                f"stream {self._id} reset by the peer (code {error_code})", error_code=error_code
            )
        self._wake()

    def on_stop_sending(self, error_code: int) -> None:
        """The peer sent STOP_SENDING: our writes fail from now on."""
        if self._stopped is None:
            self._stopped = StreamReset(
                f"the peer stopped reading stream {self._id} (code {error_code})",
                error_code=error_code,
            )
            if not self._write_closed and self._host.quic.stream_known(self._id):
                self._host.quic.reset_stream(self._id, RESET_CODE)
                self._host.kick()
        self._wake()

    def on_connection_end(self, cause: BaseException) -> None:
        """The connection ended: everything not finished breaks."""
        if self._broken is None:
            self._broken = cause
        if self._stopped is None:
            self._stopped = cause
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # -- receiving -----------------------------------------------------------------------
    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return up to ``max_bytes`` bytes (default 256 KiB); ``b""`` only at EOF.

        Raises TypeError/ValueError (``max_bytes`` not an int >= 1), trio's
        Closed/Broken/BusyResourceError.
        """
        max_bytes = DEFAULT_RECEIVE_SIZE if max_bytes is None else operator.index(max_bytes)
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        with self._receiving:
            await trio.lowlevel.checkpoint()
            while True:
                if self._closed:
                    raise trio.ClosedResourceError("the QUIC stream is closed")
                if self._buffer or self._eof or self._broken is not None:
                    break
                await self._changed.wait()
            if self._buffer:
                data = bytes(self._buffer[:max_bytes])
                del self._buffer[:max_bytes]
                self._host.quic.consume(self._id, len(data))
                self._host.kick()
                return data
            if self._eof:
                return b""
            raise trio.BrokenResourceError(str(self._broken)) from self._broken

    # -- sending -------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self._closed or self._write_closed:
            raise trio.ClosedResourceError("the QUIC stream is closed for writing")
        if self._stopped is not None:
            raise trio.BrokenResourceError(str(self._stopped)) from self._stopped

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data``; returns once it is in packets. Raises trio's
        Closed/Broken/BusyResourceError."""
        with self._sending:
            await trio.lowlevel.checkpoint()
            self._check_writable()
            if data:
                self._host.quic.send_stream_data(self._id, bytes(data))
                self._host.kick()
            await self._wait_flushed()

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until what was written is in packets and the peer grants more credit."""
        with self._sending:
            await trio.lowlevel.checkpoint()
            self._check_writable()
            while self._host.quic.send_blocked(self._id):
                await self._host.wait_progress()
                self._check_writable()

    async def _wait_flushed(self) -> None:
        while self._host.quic.has_unsent(self._id):
            await self._host.wait_progress()
            self._check_writable()

    async def send_eof(self) -> None:
        """Send FIN (idempotent). Raises trio's Closed/BusyResourceError."""
        with self._sending:
            await trio.lowlevel.checkpoint()
            if self._closed:
                raise trio.ClosedResourceError("the QUIC stream is closed")
            self._finish_writing()

    def _finish_writing(self) -> None:
        if not self._write_closed:
            self._write_closed = True
            if self._stopped is None and self._host.quic.stream_known(self._id):
                self._host.quic.send_stream_data(self._id, b"", end_stream=True)
                self._host.kick()

    # -- closing -------------------------------------------------------------------------
    async def aclose(self) -> None:
        """FIN our side; STOP_SENDING theirs if still open; drop unread bytes. Idempotent."""
        if not self._closed:
            if self._broken is None:
                self._finish_writing()
                if not self._eof:
                    self._host.quic.stop_stream(self._id, RESET_CODE)
            self._end()
        await trio.lowlevel.checkpoint()

    async def reset(self) -> None:
        """Abort both directions (RESET_STREAM and STOP_SENDING). Idempotent."""
        if not self._closed:
            if self._broken is None and self._host.quic.stream_known(self._id):
                if not self._write_closed and self._stopped is None:
                    self._host.quic.reset_stream(self._id, RESET_CODE)
                if not self._eof:
                    self._host.quic.stop_stream(self._id, RESET_CODE)
            self._write_closed = True
            self._end()
        await trio.lowlevel.checkpoint()

    def _end(self) -> None:
        self._closed = True
        if self._buffer:
            self._host.quic.consume(self._id, len(self._buffer))
            self._buffer.clear()
        self._host.kick()
        self._host.stream_closed(self)
        self._wake()
