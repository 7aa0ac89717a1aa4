"""A WebSocket connection as a trio byte stream (the trio adapter of :mod:`.ws_protocol`).

:class:`WebSocketStream` is a ``trio.abc.HalfCloseableStream``. Outgoing bytes travel in binary
frames (one frame per ``send_all``, split at ``send_frame_size``); incoming text and binary
frames are both stream bytes, handed out as they arrive. Pings are answered; Pongs ignored.

Half-close: ``send_eof`` sends our Close frame (code 1000) and keeps reading until the peer's
Close; a received Close with code 1000 or 1005 is EOF, any other code is an error. We answer a
peer's Close with our own only when our side ends too (``send_eof`` or ``aclose``), so two
p2pstack ends can half-close; a peer that answers a Close at once (as most do) simply ends
both directions. ``aclose`` sends a Close frame (if none was sent and the send side is idle)
within ``close_timeout`` and then closes the underlying stream.

A server stream performs the HTTP upgrade lazily, on its first operation (as
``trio.SSLStream`` does its handshake), so a listener never waits on a slow client; call
:meth:`WebSocketStream.do_handshake` to run it explicitly.
"""

from __future__ import annotations

import logging
import operator
from typing import Final

import trio

from stack.errors import ProtocolError

from .ws_protocol import (
    CLOSE_NORMAL,
    EOF_CLOSE_CODES,
    ClientHandshake,
    ControlFrame,
    FrameParser,
    Opcode,
    ServerHandshake,
    WebSocketClosed,
    WebSocketError,
    WebSocketHandshakeError,
    encode_close,
    encode_frame,
)

logger: Final = logging.getLogger("p2pstack.websocket")

DEFAULT_READ_SIZE: Final = 256 * 1024
DEFAULT_SEND_FRAME_SIZE: Final = 1024 * 1024
DEFAULT_MAX_FRAME_SIZE: Final = 256 * 1024 * 1024

BytesLike = bytes | bytearray | memoryview


class _Conflict:
    """Raises trio.BusyResourceError when two tasks use one side of the stream at once."""

    __slots__ = ("_busy", "_message")

    def __init__(self, message: str) -> None:
        self._message = message
        self._busy = False

    def __enter__(self) -> None:
        if self._busy:
            raise trio.BusyResourceError(self._message)
        self._busy = True

    def __exit__(self, *exc: object) -> None:
        self._busy = False


class WebSocketStream(trio.abc.HalfCloseableStream):
    """One WebSocket connection over ``transport_stream`` (TCP or TLS), as a byte stream.

    Build a client stream with :func:`open_client_stream` (it runs the handshake) and a server
    stream directly with ``server_handshake=ServerHandshake()``.
    """

    def __init__(
        self,
        transport_stream: trio.abc.Stream,
        *,
        client: bool,
        initial: bytes = b"",
        server_handshake: ServerHandshake | None = None,
        handshake_timeout: float = 10.0,
        close_timeout: float = 2.0,
        read_size: int = DEFAULT_READ_SIZE,
        send_frame_size: int = DEFAULT_SEND_FRAME_SIZE,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        self.transport_stream = transport_stream
        self._client = client
        self._handshake = server_handshake
        self._handshake_lock = trio.Lock()
        self._handshake_timeout = handshake_timeout
        self._close_timeout = close_timeout
        self._read_size = read_size
        self._send_frame_size = send_frame_size
        self._parser = FrameParser(expect_masked=not client, max_frame_size=max_frame_size)
        self._ready: list[bytes | bytearray] = []
        self._control_out = bytearray()
        self._eof = False
        self._closed = False
        self._sent_close = False
        self._write_lock = trio.Lock()  # the receiver sends Pongs too
        self._recv_error: BaseException | None = None  # the receive side is broken
        self._send_error: BaseException | None = None  # the send side is broken
        self._handshake_error: BaseException | None = None
        self._send_conflict = _Conflict("another task is sending on this WebSocket")
        self._receive_conflict = _Conflict("another task is receiving on this WebSocket")
        self.close_code: int | None = None
        """The code of the peer's Close frame, once received."""
        if initial:
            self._ingest(initial)

    # ----------------------------------------------------------------- handshake
    async def do_handshake(self) -> None:
        """Run the server's HTTP upgrade now if it has not run yet (no-op for clients).

        Raises:
            trio.BrokenResourceError: the upgrade failed (``__cause__`` says why).
            trio.ClosedResourceError: the stream was closed.
        """
        if self._closed:
            raise trio.ClosedResourceError("the WebSocket was closed")
        await self._ensure_handshake()
        await trio.lowlevel.checkpoint()

    async def _ensure_handshake(self) -> None:
        if self._handshake is None:
            return
        async with self._handshake_lock:
            if self._handshake_error is not None:
                raise trio.BrokenResourceError(
                    f"WebSocket handshake failed: {self._handshake_error}"
                ) from self._handshake_error
            handshake = self._handshake
            if handshake is None:
                return
            try:
                with trio.fail_after(self._handshake_timeout):
                    trailing = await self._serve_handshake(handshake)
            except trio.ClosedResourceError:
                if self._closed:
                    raise
                self._handshake_error = WebSocketHandshakeError("transport closed")
            except trio.TooSlowError:
                self._handshake_error = WebSocketHandshakeError(
                    f"timed out after {self._handshake_timeout:g} s"
                )
            except (trio.BrokenResourceError, ProtocolError) as exc:
                self._handshake_error = exc
            except BaseException as exc:  # cancelled halfway: the state is unknown
                self._handshake_error = exc
                raise
            if self._handshake_error is not None:
                raise trio.BrokenResourceError(
                    f"WebSocket handshake failed: {self._handshake_error}"
                ) from self._handshake_error
            self._handshake = None
            if trailing:
                self._ingest(trailing)

    async def _serve_handshake(self, handshake: ServerHandshake) -> bytes:
        while True:
            data = await self.transport_stream.receive_some(self._read_size)
            try:
                done = handshake.receive_data(data)
            except WebSocketHandshakeError as exc:
                if exc.response:
                    with trio.move_on_after(self._close_timeout):
                        await self.transport_stream.send_all(exc.response)
                logger.debug("refused a WebSocket upgrade: %s", exc)
                raise
            if done is not None:
                response, trailing = done
                await self.transport_stream.send_all(response)
                return trailing

    # ----------------------------------------------------------------- receiving
    def _ingest(self, data: bytes | bytearray) -> None:
        """Feed received bytes to the parser; queue Pongs and note a Close or an error."""
        try:
            chunks, controls = self._parser.feed(data)
        except WebSocketError as exc:
            self._recv_error = exc
            if not self._sent_close:
                self._sent_close = True
                self._control_out += encode_close(exc.close_code, str(exc), masked=self._client)
            return
        if chunks:
            self._ready.extend(chunks)
        for control in controls:
            self._on_control(control)

    def _on_control(self, control: ControlFrame) -> None:
        if control.opcode == Opcode.PING:
            if not self._sent_close:
                self._control_out += encode_frame(Opcode.PONG, control.payload, masked=self._client)
        elif control.opcode == Opcode.CLOSE:
            code, reason = control.close_status()
            self.close_code = code
            if code in EOF_CLOSE_CODES:
                self._eof = True
            else:  # an error: the connection is over, echo the code at once
                self._recv_error = WebSocketClosed(code, reason)
                if not self._sent_close:
                    self._sent_close = True
                    self._control_out += encode_close(code, masked=self._client)

    def _take(self, max_bytes: int | None) -> bytes:
        ready = self._ready
        first = ready[0]
        if max_bytes is None or len(first) <= max_bytes:
            if len(ready) == 1:
                ready.clear()
                return bytes(first)
            total = 0
            count = 0
            for chunk in ready:
                if max_bytes is not None and total + len(chunk) > max_bytes:
                    break
                total += len(chunk)
                count += 1
            data = b"".join(ready[:count])
            del ready[:count]
            return data
        ready[0] = first[max_bytes:]
        return bytes(first[:max_bytes])

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` bytes (all that is ready when None); ``b""`` at EOF.

        Raises:
            trio.BrokenResourceError: the connection failed, the peer broke the protocol or
                closed with an error code (``__cause__`` says which).
            trio.ClosedResourceError: this stream was closed.
            trio.BusyResourceError: another task is receiving.
        """
        if max_bytes is not None:
            max_bytes = operator.index(max_bytes)
            if max_bytes < 1:
                raise ValueError("max_bytes must be >= 1")
        with self._receive_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the WebSocket was closed")
            await trio.lowlevel.checkpoint_if_cancelled()
            await self._ensure_handshake()
            while not self._ready:
                if self._eof:
                    await trio.lowlevel.cancel_shielded_checkpoint()
                    return b""
                if self._recv_error is not None:
                    await self._flush_control()
                    raise trio.BrokenResourceError(
                        f"WebSocket failed: {self._recv_error}"
                    ) from self._recv_error
                try:
                    data = await self.transport_stream.receive_some(self._read_size)
                except trio.ClosedResourceError:
                    if self._closed:
                        raise
                    self._recv_error = trio.BrokenResourceError("transport closed")
                    raise trio.BrokenResourceError("the WebSocket transport was closed") from None
                except trio.BrokenResourceError as exc:
                    self._recv_error = exc
                    raise
                if not data:
                    self._recv_error = WebSocketError("connection closed without a Close frame")
                    continue
                self._ingest(data)
                if self._control_out:
                    await self._flush_control()
                if self._ready:
                    return self._take(max_bytes)
            await trio.lowlevel.cancel_shielded_checkpoint()
            return self._take(max_bytes)

    # ------------------------------------------------------------------- sending
    async def _write(self, data: BytesLike) -> None:
        """Write ``data``, then any queued control frames, under the write lock. Marks the
        send side broken on any failure (a frame may be half written)."""
        async with self._write_lock:
            await self._write_locked(data)

    async def _write_locked(self, data: BytesLike) -> None:
        try:
            if self._control_out:
                data = bytes(self._control_out) + data
                self._control_out.clear()
            await self.transport_stream.send_all(data)
            while self._control_out:
                pending = bytes(self._control_out)
                self._control_out.clear()
                await self.transport_stream.send_all(pending)
        except trio.ClosedResourceError as exc:
            self._send_error = exc
            if self._closed:
                raise
            raise trio.BrokenResourceError("the WebSocket transport was closed") from exc
        except BaseException as exc:
            self._send_error = exc
            raise

    async def _flush_control(self) -> None:
        """Send queued control frames unless a writer is busy (it flushes them after)."""
        if self._write_lock.locked() or self._send_error is not None or self._closed:
            return
        try:
            await self._write(b"")
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("could not send a WebSocket control frame: %s", exc)

    def _check_send(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the WebSocket was closed")
        if self._send_error is not None:
            raise trio.BrokenResourceError(
                "an earlier send on this WebSocket failed"
            ) from self._send_error
        if self._sent_close:
            if self._recv_error is not None:
                raise trio.BrokenResourceError(
                    f"WebSocket failed: {self._recv_error}"
                ) from self._recv_error
            raise trio.ClosedResourceError("send_eof was called on this WebSocket")

    async def send_all(self, data: BytesLike) -> None:
        """Send ``data`` in binary frames; ``b""`` sends nothing.

        Raises:
            trio.ClosedResourceError: this stream was closed, or ``send_eof`` was called.
            trio.BrokenResourceError: the connection failed or an earlier send was interrupted.
            trio.BusyResourceError: another task is sending.
        """
        with self._send_conflict:
            self._check_send()
            await trio.lowlevel.checkpoint_if_cancelled()
            await self._ensure_handshake()
            self._check_send()
            size = len(data)
            if not size:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return
            step = self._send_frame_size
            if size <= step:
                await self._write(encode_frame(Opcode.BINARY, data, masked=self._client))
                return
            view = memoryview(data)
            for offset in range(0, size, step):
                frame = encode_frame(
                    Opcode.BINARY, view[offset : offset + step], masked=self._client
                )
                await self._write(frame)

    async def wait_send_all_might_not_block(self) -> None:
        with self._send_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the WebSocket was closed")
            await self._ensure_handshake()
            await self.transport_stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        """Send our Close frame (code 1000); keep receiving until the peer's Close.

        A second call is a no-op. Raises ClosedResourceError after ``aclose`` and
        BrokenResourceError when the connection failed.
        """
        with self._send_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the WebSocket was closed")
            await trio.lowlevel.checkpoint_if_cancelled()
            if self._sent_close:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return
            await self._ensure_handshake()
            if self._send_error is not None:
                raise trio.BrokenResourceError(
                    "an earlier send on this WebSocket failed"
                ) from self._send_error
            self._sent_close = True
            await self._write(encode_close(CLOSE_NORMAL, masked=self._client))

    # ------------------------------------------------------------------- closing
    async def aclose(self) -> None:
        """Send a Close frame if we can, then close the transport. Idempotent."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        try:
            can_send = (
                self._handshake is None
                and self._send_error is None
                and not self._write_lock.locked()
                and (not self._sent_close or bool(self._control_out))
            )
            if can_send:
                frame = bytes(self._control_out)
                self._control_out.clear()
                if not self._sent_close:
                    self._sent_close = True
                    frame += encode_close(CLOSE_NORMAL, masked=self._client)
                with trio.move_on_after(self._close_timeout):
                    await self.transport_stream.send_all(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await self.transport_stream.aclose()


async def open_client_stream(
    transport_stream: trio.abc.Stream,
    *,
    host: str,
    path: str = "/",
    max_handshake_size: int = 16 * 1024,
    read_size: int = DEFAULT_READ_SIZE,
    send_frame_size: int = DEFAULT_SEND_FRAME_SIZE,
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    close_timeout: float = 2.0,
) -> WebSocketStream:
    """Run the client handshake (``GET path`` with ``Host: host``) and return the stream.

    The caller bounds the time (and closes ``transport_stream`` on failure).

    Raises:
        WebSocketHandshakeError: the server refused or answered badly.
        trio.BrokenResourceError: the transport failed.
    """
    handshake = ClientHandshake(host, path, max_size=max_handshake_size)
    await transport_stream.send_all(handshake.request)
    while True:
        data = await transport_stream.receive_some(read_size)
        trailing = handshake.receive_data(data)
        if trailing is not None:
            return WebSocketStream(
                transport_stream,
                client=True,
                initial=trailing,
                close_timeout=close_timeout,
                read_size=read_size,
                send_frame_size=send_frame_size,
                max_frame_size=max_frame_size,
            )
