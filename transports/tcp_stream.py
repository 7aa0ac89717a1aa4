"""TcpStream: a trio half-closeable stream straight over a non-blocking stdlib TCP socket.

It behaves like ``trio.SocketStream`` (same errors, same checkpoints) with fewer layers per
call, plus the two operations the layers above use on their hot paths:

- :meth:`TcpStream.receive_into` reads into a caller's buffer (no fresh ``bytes`` per read);
- :meth:`TcpStream.send_all_atomic` sends everything even when cancelled meanwhile, so a
  cancelled writer never leaves half a frame on the wire. When the socket takes the data at
  once (the usual case) this costs one schedule point and no cancel scope.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable
from typing import ClassVar, Final, TypeVar, final

import trio
from trio.lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    notify_closing,
    wait_readable,
    wait_writable,
)

from p2pstack.conflict import ConflictDetector
from p2pstack.stream_ops import Buffer

DEFAULT_RECEIVE_SIZE: Final = 64 * 1024
_Arg = TypeVar("_Arg")
_Result = TypeVar("_Result")
_CLOSED_ERRNOS: Final = frozenset({errno.EBADF, errno.ENOTSOCK})
_NOTSENT_LOWAT: Final = 16 * 1024
"""Wake writers when less than this is unsent (as trio's SocketStream does)."""
#: Linux spells the keepalive idle time TCP_KEEPIDLE; macOS spells it TCP_KEEPALIVE (0x10).
_TCP_KEEPIDLE: Final = getattr(socket, "TCP_KEEPIDLE", None) or getattr(
    socket, "TCP_KEEPALIVE", None
)
logger: Final = logging.getLogger("p2pstack.tcp")


def set_liveness_options(
    sock: socket.socket,
    *,
    keepalive_idle: int | None,
    keepalive_interval: int,
    keepalive_count: int,
    user_timeout: float | None,
) -> None:
    """Make the kernel notice a vanished peer: TCP keepalive probes after ``keepalive_idle``
    idle seconds (None: no keepalive), ``keepalive_count`` of them ``keepalive_interval`` s
    apart, and ``TCP_USER_TIMEOUT``: data unacknowledged for ``user_timeout`` s (None: the
    kernel's default, many minutes) fails the socket. Options the platform lacks are skipped.
    """
    options: list[tuple[int, int, int]] = []
    if keepalive_idle is None:
        options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0))
    else:
        options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
        if _TCP_KEEPIDLE is not None:
            options.append((socket.IPPROTO_TCP, _TCP_KEEPIDLE, keepalive_idle))
        for name, value in (
            ("TCP_KEEPINTVL", keepalive_interval),
            ("TCP_KEEPCNT", keepalive_count),
        ):
            if hasattr(socket, name):
                options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    if user_timeout is not None and hasattr(socket, "TCP_USER_TIMEOUT"):
        options.append((socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, round(user_timeout * 1000)))
    for level, option, value in options:
        try:
            sock.setsockopt(level, option, value)
        except OSError as exc:  # not TCP (a Unix socket pair in tests), or not supported
            logger.debug("cannot set socket option %d/%d: %s", level, option, exc)


def _stream_error(exc: OSError) -> trio.ClosedResourceError | trio.BrokenResourceError:
    if exc.errno in _CLOSED_ERRNOS:
        return trio.ClosedResourceError("the TCP socket was already closed")
    error = trio.BrokenResourceError(f"TCP connection broken: {exc}")
    error.__cause__ = exc
    return error


@final
class TcpStream(trio.abc.HalfCloseableStream):
    """A connected TCP socket as a ``trio.abc.HalfCloseableStream``.

    Takes ownership of ``sock`` (made non-blocking, ``TCP_NODELAY`` set). ``send_eof`` shuts
    down the write side; ``aclose`` closes the socket and wakes any task blocked on it with
    ``trio.ClosedResourceError``. OS errors surface as ``trio.BrokenResourceError``.
    """

    __slots__ = ("_closed", "_eof_sent", "_receive_conflict", "_send_conflict", "socket")

    cancel_safe_receive: ClassVar[bool] = True
    """A cancelled receive has read nothing (see ``p2pstack.stream_ops.receive_is_cancel_safe``)."""

    def __init__(self, sock: socket.socket) -> None:
        if sock.type != socket.SOCK_STREAM:
            raise ValueError("TcpStream needs a SOCK_STREAM socket")
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if hasattr(socket, "TCP_NOTSENT_LOWAT"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, _NOTSENT_LOWAT)
        except OSError:  # not TCP (a Unix socket pair in tests)
            pass
        self.socket = sock
        self._closed = False
        self._eof_sent = False
        self._send_conflict = ConflictDetector("another task is sending on this TCP stream")
        self._receive_conflict = ConflictDetector("another task is receiving on this TCP stream")

    @classmethod
    def from_trio(cls, stream: trio.SocketStream) -> TcpStream:
        """Take over the socket of a connected ``trio.SocketStream`` (which is left closed)."""
        sock = stream.socket
        return cls(socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach()))

    def __repr__(self) -> str:
        return f"<TcpStream fd={self.socket.fileno()}>"

    # -- sending ---------------------------------------------------------------------------

    async def send_all(self, data: Buffer) -> None:
        """Send all of ``data``. Cancelled, part of it may have been sent (trio's contract).

        Raises:
            trio.ClosedResourceError: closed, or ``send_eof`` was called.
            trio.BrokenResourceError: the connection failed.
            trio.BusyResourceError: another task is sending.
        """
        with self._send_conflict:
            self._check_send()
            await checkpoint_if_cancelled()
            if not await self._send_some_now(data):
                await cancel_shielded_checkpoint()

    async def send_all_atomic(self, data: Buffer) -> None:
        """Send all of ``data``; cancellation waits until it is all written.

        The call is a schedule point but never raises ``trio.Cancelled`` itself. Raises as
        :meth:`send_all` for a closed, failed or busy stream.
        """
        with self._send_conflict:
            self._check_send()
            try:
                sent = self.socket.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise _stream_error(exc) from None
            if sent == (data.nbytes if isinstance(data, memoryview) else len(data)):
                await cancel_shielded_checkpoint()
                return
            with trio.CancelScope(shield=True), memoryview(data) as view:
                await self._send_some_now(view[sent:])

    async def _send_some_now(self, data: Buffer) -> bool:
        """Write ``data``, waiting for room as needed; True if it had to wait (a checkpoint)."""
        sock = self.socket
        waited = False
        with memoryview(data) as view:
            while view:
                try:
                    sent = sock.send(view)
                except BlockingIOError:
                    await wait_writable(sock)
                    waited = True
                    continue
                except OSError as exc:
                    raise _stream_error(exc) from None
                view = view[sent:]
        return waited

    async def wait_send_all_might_not_block(self) -> None:
        """Return when the socket has room for more data."""
        with self._send_conflict:
            self._check_send()
            await wait_writable(self.socket)

    async def send_eof(self) -> None:
        """Shut down the sending side; idempotent."""
        with self._send_conflict:
            await checkpoint()
            if self._closed:
                raise trio.ClosedResourceError("the TCP stream is closed")
            if self._eof_sent:
                return
            self._eof_sent = True
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError as exc:
                raise _stream_error(exc) from None

    def _check_send(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the TCP stream is closed")
        if self._eof_sent:
            raise trio.ClosedResourceError("can't send data after sending EOF")

    # -- receiving -------------------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return up to ``max_bytes`` bytes (default 64 KiB); ``b""`` once the peer sent EOF.

        Raises:
            ValueError: ``max_bytes`` < 1.
            trio.ClosedResourceError, trio.BrokenResourceError, trio.BusyResourceError.
        """
        if max_bytes is None:
            max_bytes = DEFAULT_RECEIVE_SIZE
        elif max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        return await self._receive(self.socket.recv, max_bytes)

    async def receive_into(self, buffer: bytearray | memoryview) -> int:
        """Read into ``buffer``; return the count, 0 once the peer sent EOF.

        Same errors and checkpoints as :meth:`receive_some`.
        """
        return await self._receive(self.socket.recv_into, buffer)

    async def _receive(self, read: Callable[[_Arg], _Result], arg: _Arg) -> _Result:
        """``read(arg)`` on the socket, waiting until it is readable; a checkpoint either way."""
        with self._receive_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the TCP stream is closed")
            await checkpoint_if_cancelled()
            waited = False
            while True:
                try:
                    result = read(arg)
                except BlockingIOError:
                    await wait_readable(self.socket)
                    waited = True
                    continue
                except OSError as exc:
                    raise _stream_error(exc) from None
                if not waited:
                    await cancel_shielded_checkpoint()
                return result

    # -- closing ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the socket; idempotent. Tasks blocked on it get ``trio.ClosedResourceError``."""
        if not self._closed:
            self._closed = True
            if self.socket.fileno() != -1:
                notify_closing(self.socket)
            self.socket.close()
        await checkpoint()
