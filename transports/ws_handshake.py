"""The WebSocket HTTP upgrade (RFC 6455 §4), on both sides, run with wsproto.

:func:`client_handshake` sends ``GET path`` and reads the 101 answer; :class:`ServerHandshake`
reads the request and answers 101 (or an HTTP error), once, whichever task of the stream
needs it first (as ``trio.SSLStream`` runs its handshake). Both return the bytes that came
after the HTTP head: the first WebSocket frames. No subprotocol and no extension is offered
or accepted: a libp2p byte stream needs neither.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Final

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import AcceptConnection, RejectConnection, Request
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from p2pstack.errors import ProtocolError
from p2pstack.transports.ws_protocol import WebSocketHandshakeError

logger: Final = logging.getLogger("p2pstack.websocket")

_END_OF_HEAD: Final = re.compile(rb"\n\r?\n")  # the blank line ending an HTTP head (as h11)
_BAD_REQUEST: Final = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class HeadTooLarge(WebSocketHandshakeError):
    """The HTTP head exceeds the size limit."""


async def read_http_head(
    stream: trio.abc.Stream, read_size: int, max_size: int
) -> tuple[bytes, bytes]:
    """Read one HTTP head (through its blank line); return it and the bytes after it.

    Raises:
        WebSocketHandshakeError: the peer closed first, or the head exceeds ``max_size``
            (:class:`HeadTooLarge`).
    """
    buffer = bytearray()
    while True:
        data = await stream.receive_some(read_size)
        if not data:
            raise WebSocketHandshakeError("connection closed during the WebSocket handshake")
        start = max(0, len(buffer) - 2)
        buffer += data
        match = _END_OF_HEAD.search(buffer, start)
        if match is not None and match.end() <= max_size:
            end = match.end()
            return bytes(buffer[:end]), bytes(buffer[end:])
        if len(buffer) > max_size:
            raise HeadTooLarge(f"HTTP head larger than {max_size} bytes")


async def client_handshake(
    transport_stream: trio.abc.Stream,
    *,
    host: str,
    path: str,
    read_size: int,
    max_handshake_size: int,
) -> tuple[WSConnection, bytes]:
    """Send the upgrade request and read the answer; return the open connection and the
    bytes received after the 101 response. The caller bounds the time.

    Raises:
        WebSocketHandshakeError: the server refused or answered badly.
        trio.BrokenResourceError: the transport failed.
    """
    ws = WSConnection(ConnectionType.CLIENT)
    try:
        request = ws.send(Request(host=host, target=path))
    except ValueError as exc:  # a host IDNA cannot encode
        raise WebSocketHandshakeError(f"bad Host {host!r}: {exc}", remote=False) from exc
    await transport_stream.send_all(request)
    head, trailing = await read_http_head(transport_stream, read_size, max_handshake_size)
    try:
        ws.receive_data(head)
        events = list(ws.events())
    except (RemoteProtocolError, ValueError) as exc:
        raise WebSocketHandshakeError(f"bad upgrade response: {exc}") from exc
    for event in events:
        if isinstance(event, AcceptConnection):
            return ws, trailing
        if isinstance(event, RejectConnection):
            raise WebSocketHandshakeError(
                f"server refused the WebSocket upgrade: HTTP {event.status_code}"
            )
    raise WebSocketHandshakeError("no answer to the WebSocket upgrade in the HTTP response")


class ServerHandshake:
    """The server side of the upgrade over ``transport_stream``, run at most once.

    Attributes:
        ws: the wsproto connection that parses what the client sends (after the upgrade
            too).
        pending: the upgrade has not completed yet.
    """

    def __init__(
        self,
        transport_stream: trio.abc.Stream,
        *,
        timeout: float,
        close_timeout: float,
        read_size: int,
        max_size: int,
    ) -> None:
        self.transport_stream = transport_stream
        self.ws = WSConnection(ConnectionType.SERVER)
        self.pending = True
        self._lock = trio.Lock()
        self._timeout = timeout
        self._close_timeout = close_timeout
        self._read_size = read_size
        self._max_size = max_size
        self._error: BaseException | None = None

    async def complete(self, is_closed: Callable[[], bool]) -> tuple[Connection, bytes] | None:
        """Run the upgrade unless it ran already. The task that completes it gets the
        connection that serialises what we send and the bytes after the request; others
        get None once it is done.

        Raises:
            trio.BrokenResourceError: the upgrade failed now or before (``__cause__``).
            trio.ClosedResourceError: the transport was closed because ``is_closed()``: our
                stream was closed meanwhile.
        """
        async with self._lock:
            if self._error is not None:
                raise trio.BrokenResourceError(
                    f"WebSocket handshake failed: {self._error}"
                ) from self._error
            if not self.pending:
                return None
            result: tuple[Connection, bytes] | None = None
            try:
                with trio.fail_after(self._timeout):
                    result = await self._serve()
            except trio.ClosedResourceError:
                if is_closed():
                    raise
                self._error = WebSocketHandshakeError("transport closed")
            except trio.TooSlowError:
                self._error = WebSocketHandshakeError(f"timed out after {self._timeout:g} s")
            except (trio.BrokenResourceError, ProtocolError) as exc:
                self._error = exc
            except BaseException as exc:  # cancelled halfway: the state is unknown
                self._error = exc
                raise
            if self._error is not None or result is None:
                raise trio.BrokenResourceError(
                    f"WebSocket handshake failed: {self._error}"
                ) from self._error
            self.pending = False
            return result

    async def _serve(self) -> tuple[Connection, bytes]:
        """Read the upgrade request, answer 101 (or an HTTP error)."""
        ws = self.ws
        try:
            head, trailing = await read_http_head(
                self.transport_stream, self._read_size, self._max_size
            )
        except HeadTooLarge as exc:
            raise await self._refuse(RejectConnection(status_code=431), str(exc)) from None
        request: Request | None = None
        try:
            # Only the head goes in: wsproto's server would drop bytes that follow it.
            ws.receive_data(head)
            for event in ws.events():
                if isinstance(event, Request):
                    request = event
        except RemoteProtocolError as exc:
            hint = exc.event_hint
            reject = hint if isinstance(hint, RejectConnection) else RejectConnection()
            raise await self._refuse(reject, f"bad upgrade request: {exc}") from exc
        except ValueError as exc:  # a header wsproto cannot decode (UnicodeError)
            raise await self._refuse(RejectConnection(), f"bad upgrade request: {exc}") from exc
        if request is None:
            raise await self._refuse(RejectConnection(), "incomplete upgrade request")
        await self.transport_stream.send_all(ws.send(AcceptConnection()))
        return Connection(ConnectionType.SERVER), trailing

    async def _refuse(self, reject: RejectConnection, message: str) -> WebSocketHandshakeError:
        """Send an HTTP error for a failed upgrade; return the error to raise."""
        headers = [*reject.headers, (b"Connection", b"close")]
        try:
            response = self.ws.send(
                RejectConnection(status_code=reject.status_code, headers=headers)
            )
        except LocalProtocolError:
            response = _BAD_REQUEST
        with trio.move_on_after(self._close_timeout):
            await self.transport_stream.send_all(response)
        logger.debug("refused a WebSocket upgrade: %s", message)
        return WebSocketHandshakeError(message, response=response)
