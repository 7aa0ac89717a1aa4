"""One QUIC connection: the trio adapter around :class:`~.core.Libp2pQuicConnection`.

:class:`QuicSession` is the connection's :class:`~p2pstack.abc.muxer.MuxedSession`. Its
driver sends what the sans-IO connection queued and fires its timer (``get_timer()`` as a
trio deadline, woken early by :meth:`QuicSession.kick`); received datagrams are pushed in
with :meth:`QuicSession.datagram_received` by whoever reads the UDP socket (the listener's
demultiplexer, or the session's own ``pump`` for a dialled connection).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Final

import trio
from aioquic.quic import events

from p2pstack.abc.budget import UNLIMITED, MemoryBudget
from p2pstack.errors import HandshakeError, LimitExceeded, StackError
from p2pstack.identity.keys import PublicKey
from p2pstack.role import Role
from p2pstack.security.tls.certificate import verify_certificate_chain
from p2pstack.security.tls.errors import CertificateError
from p2pstack.transports.quic.config import QuicConfig
from p2pstack.transports.quic.core import Libp2pQuicConnection
from p2pstack.transports.quic.stream import QuicStream

logger: Final = logging.getLogger("p2pstack.quic")

Address = tuple[str, int]
SendDatagram = Callable[[bytes, Address], Awaitable[None]]
_uids: Final = itertools.count(1)


class QuicSessionClosed(StackError):
    """The QUIC connection ended (``error_code``: the QUIC or application error code)."""

    def __init__(self, message: str, *, error_code: int = 0, remote: bool = False) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.remote = remote


class QuicSession:
    """A QUIC connection as a muxed session (see the module docstring).

    ``on_cid(cid, added)`` learns the connection ids the peer may address us by (the
    listener routes on them); ``on_end`` runs once when the connection has ended.
    """

    opens_streams_lazily: Final = True
    """The peer learns of a stream with its first byte (as in every QUIC stack)."""

    def __init__(
        self,
        quic: Libp2pQuicConnection,
        send: SendDatagram,
        config: QuicConfig,
        *,
        role: Role,
        pump: Callable[[QuicSession], Awaitable[None]] | None = None,
        on_cid: Callable[[bytes, bool], None] | None = None,
        on_end: Callable[[QuicSession], None] | None = None,
    ) -> None:
        self._quic = quic
        self._send = send
        self._config = config
        self.role = role
        self._pump = pump
        self._on_cid = on_cid
        self._on_end = on_end
        self._streams: dict[int, QuicStream] = {}
        self._highest_peer_stream = -1
        self._accept_send, self._accept_recv = trio.open_memory_channel[QuicStream](
            config.max_inbound_streams
        )
        self._kicked = trio.Event()
        self._progress = trio.Event()
        self._ended = trio.Event()
        self._handshake_done = trio.Event()
        self._close_reason: BaseException | None = None
        self.remote_key: PublicKey | None = None
        """The peer's host key, once the handshake verified its certificate."""
        self._pings: dict[int, trio.Event] = {}
        self._last_send = trio.current_time()
        self._memory: MemoryBudget = UNLIMITED
        self._reserved = 0

    # -- the sans-IO side ----------------------------------------------------------------
    @property
    def quic(self) -> Libp2pQuicConnection:
        """The sans-IO connection (its streams' and the transport's view)."""
        return self._quic

    def kick(self) -> None:
        """Something was queued: let the driver send it."""
        self._kicked.set()

    async def wait_progress(self) -> None:
        """Wait until the driver sent something, a datagram arrived, or the session ended."""
        if not self._ended.is_set():
            await self._progress.wait()

    def _progressed(self) -> None:
        self._progress.set()
        self._progress = trio.Event()

    def datagram_received(self, data: bytes, addr: Address) -> None:
        """Feed one datagram from ``addr`` (never raises: a bad one ends the connection at
        worst, as aioquic decides)."""
        if self._ended.is_set():
            return
        self._quic.receive_datagram(data, addr, now=trio.current_time())
        self._process_events()
        self.kick()
        self._progressed()

    def _process_events(self) -> None:
        while (event := self._quic.next_event()) is not None:
            if isinstance(event, events.StreamDataReceived):
                self._on_stream_data(event.stream_id, event.data, event.end_stream)
            elif isinstance(event, events.StreamReset):
                if (stream := self._streams.get(event.stream_id)) is not None:
                    stream.on_reset(event.error_code)
            elif isinstance(event, events.StopSendingReceived):
                if (stream := self._streams.get(event.stream_id)) is not None:
                    stream.on_stop_sending(event.error_code)
            elif isinstance(event, events.PingAcknowledged):
                if (waiter := self._pings.pop(event.uid, None)) is not None:
                    waiter.set()
            elif isinstance(event, events.HandshakeCompleted):
                self._on_handshake()
            elif isinstance(event, events.ConnectionIdIssued | events.ConnectionIdRetired):
                if self._on_cid is not None:
                    issued = isinstance(event, events.ConnectionIdIssued)
                    self._on_cid(event.connection_id, issued)
            elif isinstance(event, events.ConnectionTerminated):
                reason = event.reason_phrase or "no reason given"
                self._end(
                    QuicSessionClosed(
                        f"QUIC connection closed (code {event.error_code}: {reason})",
                        error_code=event.error_code,
                        remote=True,
                    )
                )

    def _on_stream_data(self, stream_id: int, data: bytes, end: bool) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            stream = self._new_peer_stream(stream_id)
        if stream is None:
            self._quic.consume(stream_id, len(data))  # nobody holds it: credit it back
        else:
            stream.on_data(data, end)

    def _new_peer_stream(self, stream_id: int) -> QuicStream | None:
        """The stream the peer opened with this frame, or None (not a new stream of the
        peer's, or refused)."""
        peer_opened = (stream_id & 1) == (0 if self.role is Role.RESPONDER else 1)
        if not peer_opened or stream_id <= self._highest_peer_stream or self._ended.is_set():
            return None  # a stream we closed (late data) or refused
        self._highest_peer_stream = stream_id
        if stream_id & 2:  # unidirectional: libp2p does not use them
            self._quic.stop_stream(stream_id, 0)
            return None
        stream = QuicStream(self, stream_id)
        try:
            self._accept_send.send_nowait(stream)
        except trio.WouldBlock:
            logger.debug("refusing inbound stream %d: too many not accepted", stream_id)
            self._quic.reset_stream(stream_id, 0)
            self._quic.stop_stream(stream_id, 0)
            return None
        self._streams[stream_id] = stream
        return stream

    def _on_handshake(self) -> None:
        try:
            verified = verify_certificate_chain(self._quic.peer_certificates)
        except CertificateError as exc:
            logger.debug("QUIC handshake refused: %s", exc)
            self._quic.close(error_code=0x100 + 42, frame_type=0, reason_phrase=str(exc))
            self._end(HandshakeError(f"the peer's certificate is not acceptable: {exc}"))
            return
        self.remote_key = verified.public_key
        self._handshake_done.set()

    def stream_closed(self, stream: QuicStream) -> None:
        """``stream`` is closed on our side: forget it."""
        if self._streams.get(stream.stream_id) is stream:
            del self._streams[stream.stream_id]
            self._quic.forget(stream.stream_id)

    def _end(self, cause: BaseException) -> None:
        if self._ended.is_set():
            return
        self._close_reason = cause
        self._ended.set()
        self._handshake_done.set()
        self._accept_send.close()
        for stream in list(self._streams.values()):
            stream.on_connection_end(cause)
        for waiter in self._pings.values():
            waiter.set()
        if self._reserved:
            self._memory.release_memory(self._reserved)
            self._reserved = 0
        self._progressed()
        self.kick()
        if self._on_end is not None:
            self._on_end(self)

    # -- the driver ----------------------------------------------------------------------
    async def _flush(self) -> None:
        now = trio.current_time()
        datagrams = self._quic.datagrams_to_send(now=now)
        self._process_events()  # writing NEW_CONNECTION_ID frames issues connection ids
        with trio.CancelScope(shield=True):  # aioquic counts them as sent: send them all
            for data, addr in datagrams:
                try:
                    await self._send(data, addr)
                except OSError as exc:  # e.g. ICMP unreachable: QUIC's timers decide
                    logger.debug("QUIC send to %s failed: %s", addr, exc)
                except trio.ClosedResourceError:  # the socket went with the connection
                    return
        if datagrams:
            self._last_send = now
            self._progressed()

    async def _drive(self) -> None:
        keepalive = self._config.keepalive_interval
        while True:
            timer = self._quic.get_timer()
            if timer is not None and timer <= trio.current_time():
                self._quic.handle_timer(now=trio.current_time())
                self._process_events()
            await self._flush()
            if self._ended.is_set():
                return
            deadline = math.inf if timer is None else timer
            if keepalive is not None and self._handshake_done.is_set():
                ping_at = self._last_send + keepalive
                if ping_at <= trio.current_time():
                    self._quic.send_ping(next(_uids))
                    continue
                deadline = min(deadline, ping_at)
            timer = self._quic.get_timer()
            deadline = min(deadline, math.inf if timer is None else timer)
            with trio.move_on_at(deadline):
                await self._kicked.wait()
            self._kicked = trio.Event()

    async def _serve(self, until: trio.Event) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._drive)
            if self._pump is not None:
                nursery.start_soon(self._pump, self)
            await until.wait()
            nursery.cancel_scope.cancel()

    async def handshake(self) -> PublicKey:
        """Drive the connection until the handshake is done; return the peer's host key.

        Raises:
            HandshakeError: it failed, timed out or the peer's certificate is invalid.
        """
        try:
            with trio.fail_after(self._config.handshake_timeout):
                await self._serve(self._handshake_done)
        except trio.TooSlowError:
            await self.close(error_code=0, reason="handshake timeout")
            raise HandshakeError("the QUIC handshake timed out") from None
        if self.remote_key is None:
            with trio.move_on_after(1):
                await self._flush()  # our CONNECTION_CLOSE, if any
            cause = self._close_reason
            if isinstance(cause, HandshakeError):
                raise cause
            raise HandshakeError(f"the QUIC handshake failed: {cause}") from cause
        return self.remote_key

    def reserve(self, memory: MemoryBudget) -> None:
        """Reserve the connection window (what the peer can make us hold) from ``memory``.
        Raises LimitExceeded."""
        memory.reserve_memory(self._config.connection_window)
        self._memory, self._reserved = memory, self._config.connection_window

    # -- MuxedSession --------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the connection until it ends; cancelling it closes the connection."""
        try:
            task_status.started()
            await self._serve(self._ended)
        finally:
            if not self._ended.is_set():
                with trio.CancelScope(shield=True):
                    await self.close(error_code=0, reason="")

    async def open_stream(self) -> QuicStream:
        """Open a bidirectional stream (the peer learns of it with its first byte)."""
        await trio.lowlevel.checkpoint()
        if self._ended.is_set():
            raise QuicSessionClosed(f"the QUIC connection has ended: {self._close_reason}")
        if len(self._streams) >= 4 * self._config.max_inbound_streams:
            raise LimitExceeded("too many open QUIC streams", limit="quic.streams")
        stream_id = self._quic.get_next_available_stream_id()
        self._quic.send_stream_data(stream_id, b"")  # creates it
        stream = QuicStream(self, stream_id)
        self._streams[stream_id] = stream
        return stream

    async def accept_stream(self) -> QuicStream:
        """The next stream the peer opened; ``trio.EndOfChannel`` once the connection ended."""
        try:
            return await self._accept_recv.receive()
        except trio.ClosedResourceError:
            raise trio.EndOfChannel from None

    async def ping(self) -> float:
        """One PING's round-trip time, in seconds. Raises QuicSessionClosed."""
        if self._ended.is_set():
            raise QuicSessionClosed("the QUIC connection has ended")
        uid = next(_uids)
        waiter = self._pings[uid] = trio.Event()
        started = trio.current_time()
        self._quic.send_ping(uid)
        self.kick()
        await waiter.wait()
        if self._ended.is_set():
            raise QuicSessionClosed("the QUIC connection ended during a ping")
        return trio.current_time() - started

    async def close(self, *, error_code: int = 0, reason: str = "") -> None:
        """Close the connection with application ``error_code`` (sent in CONNECTION_CLOSE).
        Idempotent."""
        if self._ended.is_set():
            await trio.lowlevel.checkpoint()
            return
        self._quic.close(error_code=error_code, reason_phrase=reason)
        with trio.move_on_after(1):
            await self._flush()
        self._end(QuicSessionClosed("closed locally", error_code=error_code))

    async def aclose(self) -> None:
        """Close the connection (application error code 0). Idempotent."""
        await self.close()

    @property
    def is_closed(self) -> bool:
        return self._ended.is_set()

    async def wait_closed(self) -> None:
        await self._ended.wait()

    @property
    def close_reason(self) -> BaseException | None:
        return self._close_reason

    @property
    def num_streams(self) -> int:
        return len(self._streams)
