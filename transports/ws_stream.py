"""A WebSocket connection as a trio byte stream: our trio adapter of wsproto (sans-IO).

:class:`WebSocketStream` is a ``trio.abc.HalfCloseableStream``. Outgoing bytes travel in binary
frames (one frame per ``send_all``, split at ``send_frame_size``; the frames of up to 1 MiB
of a write go to the transport in one write); incoming text and binary frames are both
stream bytes, handed out as they arrive (partial frames, never assembled into messages).
Pings are answered; Pongs ignored.

Reads: ``receive_into`` (which the Noise layer above uses when present) reads into the
caller's buffer and moves the payload of binary data frames to its front in place (one copy
out of the kernel, none of our own); ``receive_some`` hands out the payload of a read as
the transport returned it when it holds nothing else, else joins it once.

Half-close: ``send_eof`` sends our Close frame (code 1000) and keeps reading until the peer's
Close; a received Close with code 1000 or 1005 is EOF, any other code is an error. We answer a
peer's Close with our own only when our side ends too (``send_eof`` or ``aclose``), so two
p2pstack ends can half-close; a peer that answers a Close at once (as most do) simply ends
both directions. ``aclose`` sends a Close frame (if none was sent and the send side is idle)
within ``close_timeout`` and then closes the underlying stream.

wsproto runs the HTTP upgrade (``WSConnection``) and then parses what we receive; frames we
send come from a second wsproto ``Connection`` with its own close state, because wsproto's
single connection refuses to send data once the peer's Close is in, which a half-closed
stream must still do.

A server stream performs the HTTP upgrade (:mod:`.ws_handshake`) lazily, on its first
operation (as ``trio.SSLStream`` does its handshake), so a listener never waits on a slow
client; call :meth:`WebSocketStream.do_handshake` to run it explicitly.
"""

from __future__ import annotations

import logging
from typing import Final, cast

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    TextMessage,
)

from p2pstack.conflict import ConflictDetector
from p2pstack.stream_ops import checked_max_bytes, receive_into_of
from p2pstack.transports.ws_frames import BytesLike, FrameRouter, binary_frames
from p2pstack.transports.ws_handshake import ServerHandshake, client_handshake
from p2pstack.transports.ws_protocol import (
    CLOSE_NORMAL,
    CLOSE_TOO_BIG,
    DEFAULT_MAX_HANDSHAKE_SIZE,
    EOF_CLOSE_CODES,
    WebSocketClosed,
    WebSocketError,
)

logger: Final = logging.getLogger("p2pstack.websocket")

# Binary data frames bypass wsproto (see ws_frames); other frames still pay its copies.
DEFAULT_READ_SIZE: Final = 128 * 1024
DEFAULT_SEND_FRAME_SIZE: Final = 1024 * 1024
DEFAULT_MAX_FRAME_SIZE: Final = 256 * 1024 * 1024
_GATHER_SIZE: Final = 1024 * 1024
"""Payload bytes whose frames one transport write carries at most (whole frames)."""


def _as_bytes(chunk: BytesLike) -> bytes | bytearray:
    """``chunk`` as bytes, without a copy when it is all of a ``bytes`` object."""
    if not isinstance(chunk, memoryview):
        return chunk
    whole = chunk.obj
    if isinstance(whole, bytes) and chunk.nbytes == len(whole):
        return whole
    return bytes(chunk)


class WebSocketStream(trio.abc.HalfCloseableStream):
    """One WebSocket connection over ``transport_stream`` (TCP or TLS), as a byte stream.

    Without ``connection`` this is the server side, whose HTTP upgrade runs on first use.
    Client streams come from :func:`open_client_stream`, which runs the upgrade and passes
    its open ``WSConnection`` and any bytes received after the 101 response (``initial``).
    """

    def __init__(
        self,
        transport_stream: trio.abc.Stream,
        *,
        connection: WSConnection | None = None,
        initial: bytes = b"",
        handshake_timeout: float = 10.0,
        close_timeout: float = 2.0,
        read_size: int = DEFAULT_READ_SIZE,
        send_frame_size: int = DEFAULT_SEND_FRAME_SIZE,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        max_handshake_size: int = DEFAULT_MAX_HANDSHAKE_SIZE,
    ) -> None:
        self.transport_stream = transport_stream
        self._out: Connection | None = None  # serialises what we send; None until upgraded
        self._handshake: ServerHandshake | None = None
        if connection is None:
            self._handshake = ServerHandshake(
                transport_stream,
                timeout=handshake_timeout,
                close_timeout=close_timeout,
                read_size=read_size,
                max_size=max_handshake_size,
            )
            self._ws = self._handshake.ws
        else:
            if connection.state is not ConnectionState.OPEN:
                raise ValueError("the WSConnection has not completed its handshake")
            self._ws = connection
            self._out = Connection(
                ConnectionType.CLIENT if connection.client else ConnectionType.SERVER
            )
        self._close_timeout = close_timeout
        self._read_size = read_size
        self._transport_into = receive_into_of(transport_stream)
        self._send_frame_size = send_frame_size
        self._max_frame_size = max_frame_size
        self._frame_bytes = 0  # payload bytes received so far of the current data frame
        self._ready: list[BytesLike] = []  # memoryviews only of immutable bytes
        self._router: FrameRouter | None = None  # set once upgraded (see _start_router)
        self._control_out = bytearray()
        self._eof = False
        self._closed = False
        self._write_lock = trio.Lock()  # the receiver sends Pongs too
        self._recv_error: BaseException | None = None  # the receive side is broken
        self._send_error: BaseException | None = None  # the send side is broken
        self._send_conflict = ConflictDetector("another task is sending on this WebSocket")
        self._receive_conflict = ConflictDetector("another task is receiving on this WebSocket")
        self.close_code: int | None = None
        """The code of the peer's Close frame, once received."""
        if self._out is not None:
            self._start_router()
        if initial:
            self._ingest(initial)

    @property
    def _sent_close(self) -> bool:
        return self._out is not None and self._out.state is not ConnectionState.OPEN

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
        handshake = self._handshake
        if handshake is None or not handshake.pending:
            return
        done = await handshake.complete(lambda: self._closed)
        if done is not None:
            self._out, trailing = done
            self._start_router()
            if trailing:
                self._ingest(trailing)

    # ----------------------------------------------------------------- receiving
    def _start_router(self) -> None:
        self._router = FrameRouter(
            masked=not self._ws.client,
            to_wsproto=self._to_wsproto,
            on_data=self._ready.append,
            max_fast=self._max_frame_size,
        )

    def _ingest(self, data: BytesLike) -> None:
        """Route received bytes: binary data frames are read at once, the rest by wsproto."""
        if self._router is None:
            self._to_wsproto(data)
        else:
            self._router.feed(data)

    def _to_wsproto(self, data: BytesLike) -> bool:
        """Feed bytes to wsproto and act on its events; False once the receive side ended."""
        self._ws.receive_data(cast("bytes", data))  # wsproto appends it to a bytearray
        self._wsproto_events()
        return not self._eof and self._recv_error is None

    def _wsproto_events(self) -> None:
        """Act on the events wsproto parsed: data to the ready list, control frames answered."""
        ready = self._ready
        limit = self._max_frame_size
        for event in self._ws.events():
            if isinstance(event, BytesMessage):
                chunk: bytes | bytearray = event.data
            elif isinstance(event, TextMessage):
                chunk = event.data.encode()  # wsproto checked the UTF-8; these are its bytes
            elif isinstance(event, Ping):
                self._queue(event.response())
                continue
            elif isinstance(event, CloseConnection):
                self._on_close(event)
                return
            else:  # Pong
                continue
            self._frame_bytes += len(chunk)
            if self._frame_bytes > limit:
                self._fail(
                    WebSocketError(
                        f"frame exceeds the limit of {limit} bytes", close_code=CLOSE_TOO_BIG
                    )
                )
                return
            if event.frame_finished:
                self._frame_bytes = 0
            if chunk:
                ready.append(chunk)

    def _on_close(self, event: CloseConnection) -> None:
        if self._ws.state is ConnectionState.OPEN:
            # A frame wsproto could not parse: it reports the Close we should send.
            self._fail(WebSocketError(event.reason or "malformed frame", close_code=event.code))
            return
        code = int(event.code)
        self.close_code = code
        if code in EOF_CLOSE_CODES:
            self._eof = True
        else:  # an error: the connection is over, echo the code at once
            self._recv_error = WebSocketClosed(code, event.reason or "")
            self._queue(CloseConnection(code=code))

    def _fail(self, error: WebSocketError) -> None:
        self._recv_error = error
        self._queue(CloseConnection(code=error.close_code, reason=str(error)))

    def _queue(self, event: CloseConnection | Pong) -> None:
        """Queue a control frame (Pong or Close) unless our Close went out already."""
        out = self._out
        if out is not None and out.state is ConnectionState.OPEN:
            self._control_out += out.send(event)

    def _take(self, max_bytes: int | None) -> bytes | bytearray:
        ready = self._ready
        first = ready[0]
        if max_bytes is None or len(first) <= max_bytes:
            if len(ready) == 1:
                ready.clear()
                return _as_bytes(first)
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

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Up to ``max_bytes`` bytes (all that is ready when None); ``b""`` at EOF.

        Raises:
            trio.BrokenResourceError: the connection failed, the peer broke the protocol or
                closed with an error code (``__cause__`` says which).
            trio.ClosedResourceError: this stream was closed.
            trio.BusyResourceError: another task is receiving.
        """
        max_bytes = checked_max_bytes(max_bytes)
        with self._receive_conflict:
            await self._before_receive()
            if self._ready:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return self._take(max_bytes)
            await self._fill(None)
            return self._take(max_bytes) if self._ready else b""

    async def receive_into(self, buffer: bytearray | memoryview) -> int:
        """Read stream bytes into ``buffer``: the count, 0 at EOF (see ``ReceivesInto``).

        Payload of data frames is read into ``buffer`` and moved to its front there, without
        a copy of its own. Errors as :meth:`receive_some`; ``ValueError`` for an empty buffer.
        """
        with self._receive_conflict, memoryview(buffer) as whole, whole.cast("B") as view:
            if not len(view):
                raise ValueError("receive_into needs a non-empty buffer")
            await self._before_receive()
            if self._ready:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return self._take_into(view)
            count = await self._fill(view)
            if not count and self._ready:
                return self._take_into(view)
            return count

    async def _before_receive(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the WebSocket was closed")
        await trio.lowlevel.checkpoint_if_cancelled()
        await self._ensure_handshake()
        if self._control_out:  # e.g. a Pong for a Ping that came with the 101
            await self._flush_control()

    async def _fill(self, view: memoryview | None) -> int:
        """Read until stream bytes are ready: the count of those placed in ``view`` (the rest
        is in ``self._ready``); 0 with nothing ready means EOF. Without ``view`` everything
        goes to ``self._ready``. Always a checkpoint."""
        while not self._ready:
            if self._eof:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return 0
            if self._recv_error is not None:
                await self._flush_control()
                raise trio.BrokenResourceError(
                    f"WebSocket failed: {self._recv_error}"
                ) from self._recv_error
            data: BytesLike = b""
            try:
                if view is None:  # the transport allocates once data has arrived
                    data = await self.transport_stream.receive_some(self._read_size)
                    size = len(data)
                else:
                    size = await self._read(view)
            except trio.ClosedResourceError:
                if self._closed:
                    raise
                self._recv_error = trio.BrokenResourceError("transport closed")
                raise trio.BrokenResourceError("the WebSocket transport was closed") from None
            except trio.BrokenResourceError as exc:
                self._recv_error = exc
                raise
            if not size:
                self._recv_error = WebSocketError("connection closed without a Close frame")
                continue
            count = 0
            router = self._router
            if view is not None:
                data = view[:size]
                if router is not None:
                    count = router.feed_in_place(data)
            elif router is not None:
                router.feed(data, shared=isinstance(data, bytes))
            if router is None:  # not upgraded: the handshake failed, wsproto reports it
                self._to_wsproto(data)
            if count:  # queued control frames go with the next call: a cancelled flush
                return count  # must not lose bytes already in the caller's buffer
            if self._control_out:
                await self._flush_control()
        return 0

    async def _read(self, view: memoryview) -> int:
        """One read from the transport into ``view``: the count, 0 at EOF."""
        receive_into = self._transport_into
        if receive_into is not None:
            return await receive_into(view)
        data = await self.transport_stream.receive_some(len(view))
        view[: len(data)] = data
        return len(data)

    def _take_into(self, view: memoryview) -> int:
        """Move ready bytes into ``view``: the count."""
        ready = self._ready
        count, room = 0, len(view)
        while ready and count < room:
            chunk = ready[0]
            size = min(len(chunk), room - count)
            view[count : count + size] = chunk[:size] if size < len(chunk) else chunk
            count += size
            if size < len(chunk):
                ready[0] = chunk[size:]
            else:
                del ready[0]
        return count

    # ------------------------------------------------------------------- sending
    async def _write(self, data: BytesLike) -> None:
        """Write ``data``, then any queued control frames, under the write lock.

        Frames go out in the order wsproto made them: a Close queued while ``data`` waited
        for the lock was made after it, and a Pong may follow data. Marks the send side
        broken on any failure (a frame may be half written). Always a checkpoint.
        """
        lock = self._write_lock
        if lock.locked():
            await lock.acquire()
        else:  # the transport's send_all is the checkpoint
            lock.acquire_nowait()
        sent = False
        try:
            if data:
                await self.transport_stream.send_all(data)
                sent = True
            while self._control_out:
                pending = bytes(self._control_out)
                self._control_out.clear()
                await self.transport_stream.send_all(pending)
                sent = True
        except trio.ClosedResourceError as exc:
            self._send_error = exc
            if self._closed:
                raise
            raise trio.BrokenResourceError("the WebSocket transport was closed") from exc
        except BaseException as exc:
            self._send_error = exc
            raise
        finally:
            lock.release()
        if not sent:  # nothing to write: a cancellation here breaks nothing
            await trio.lowlevel.checkpoint()

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
            assert self._out is not None
            step = self._send_frame_size
            masked = self._ws.client
            group = max(step, _GATHER_SIZE - _GATHER_SIZE % step)  # whole frames per write
            if size <= group:
                await self._write(binary_frames(data, frame_size=step, masked=masked))
                return
            view = memoryview(data).cast("B")
            for offset in range(0, size, group):
                if offset:
                    self._check_send()  # a Close may have been queued while we were writing
                piece = view[offset : offset + group]
                await self._write(binary_frames(piece, frame_size=step, masked=masked))

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
            if not self._sent_close:  # the handshake may have let a Close in
                self._queue(CloseConnection(code=CLOSE_NORMAL))
            await self._write(b"")  # after any Pong queued before it

    # ------------------------------------------------------------------- closing
    async def aclose(self) -> None:
        """Send a Close frame if we can, then close the transport. Idempotent."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        try:
            can_send = (
                self._out is not None
                and self._send_error is None
                and not self._write_lock.locked()
                and (not self._sent_close or bool(self._control_out))
            )
            if can_send:
                self._queue(CloseConnection(code=CLOSE_NORMAL))
                frames = bytes(self._control_out)
                self._control_out.clear()
                with trio.move_on_after(self._close_timeout):
                    await self.transport_stream.send_all(frames)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await self.transport_stream.aclose()


async def open_client_stream(
    transport_stream: trio.abc.Stream,
    *,
    host: str,
    path: str = "/",
    max_handshake_size: int = DEFAULT_MAX_HANDSHAKE_SIZE,
    read_size: int = DEFAULT_READ_SIZE,
    send_frame_size: int = DEFAULT_SEND_FRAME_SIZE,
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    close_timeout: float = 2.0,
) -> WebSocketStream:
    """Run the client handshake (``GET path`` with ``Host: host``) and return the stream.

    No subprotocol and no extension is offered. The caller bounds the time (and closes
    ``transport_stream`` on failure).

    Raises:
        WebSocketHandshakeError: the server refused or answered badly.
        trio.BrokenResourceError: the transport failed.
    """
    ws, trailing = await client_handshake(
        transport_stream,
        host=host,
        path=path,
        read_size=read_size,
        max_handshake_size=max_handshake_size,
    )
    return WebSocketStream(
        transport_stream,
        connection=ws,
        initial=trailing,
        close_timeout=close_timeout,
        read_size=read_size,
        send_frame_size=send_frame_size,
        max_frame_size=max_frame_size,
    )
