"""TlsStream: the trio adapter carrying application data through a :class:`TlsSession`."""

from __future__ import annotations

from typing import Final, final

import trio

from p2pstack.abc.security import SecureStream
from p2pstack.conflict import ConflictDetector
from p2pstack.errors import ProtocolError
from p2pstack.identity.keys import PublicKey
from p2pstack.identity.peer_id import PeerId
from p2pstack.security.tls.session import TlsSession
from p2pstack.stream_ops import check_sendable, checked_max_bytes, receive_is_cancel_safe

DEFAULT_RECEIVE_SIZE: Final = 256 * 1024
"""How many ciphertext bytes one read from the transport asks for, and the most plaintext
``receive_some()`` returns without ``max_bytes``."""

BytesLike = bytes | bytearray | memoryview


@final
class TlsStream(SecureStream):
    """A libp2p TLS 1.3 :class:`SecureStream` over a transport stream.

    ``send_eof`` sends TLS close_notify, then half-closes the transport if it can; the peer
    reads EOF, and we can still receive (TLS 1.3 half-close). A transport EOF without
    close_notify also reads as EOF (as go and js treat a bare FIN after the handshake). A
    record failing authentication or a fatal alert breaks the receive side for good
    (``BrokenResourceError`` caused by a :class:`TlsProtocolError`); a ``send_all``
    interrupted after encrypting breaks the send side. ``early_muxer`` is the muxer the
    handshake negotiated through ALPN, if any.
    """

    __slots__ = (
        "_closed",
        "_eof",
        "_eof_sent",
        "_receive_conflict",
        "_receive_error",
        "_receive_size",
        "_send_conflict",
        "_send_error",
        "_session",
        "early_muxer",
        "local_peer",
        "remote_peer",
        "remote_public_key",
        "transport_stream",
    )

    def __init__(
        self,
        transport_stream: trio.abc.Stream,
        session: TlsSession,
        *,
        local_peer: PeerId,
        remote_peer: PeerId,
        remote_public_key: PublicKey,
        receive_size: int = DEFAULT_RECEIVE_SIZE,
        early_muxer: str | None = None,
    ) -> None:
        self.transport_stream = transport_stream
        self.early_muxer = early_muxer
        self.local_peer = local_peer
        self.remote_peer = remote_peer
        self.remote_public_key = remote_public_key
        self._session = session
        self._receive_size = receive_size
        self._send_conflict = ConflictDetector("another task is already sending on this stream")
        self._receive_conflict = ConflictDetector(
            "another task is already receiving from this stream"
        )
        self._closed = False
        self._eof = False
        self._eof_sent = False
        self._send_error: BaseException | None = None
        self._receive_error: ProtocolError | None = None

    # -- sending -------------------------------------------------------------------------------

    async def send_all(self, data: BytesLike) -> None:
        """Encrypt and send all of ``data``; ``b""`` sends nothing.

        Raises:
            trio.ClosedResourceError: this stream was closed, or ``send_eof`` was called.
            trio.BrokenResourceError: the transport failed, or an earlier send was interrupted.
            trio.BusyResourceError: another task is sending.
        """
        with self._send_conflict:
            self._check_send()
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                records = self._session.encrypt(data)
            except ProtocolError as exc:
                self._send_error = exc
                raise trio.BrokenResourceError("cannot encrypt on this TLS stream") from exc
            if not records:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return
            try:
                await self.transport_stream.send_all(records)
            except BaseException as exc:
                self._send_error = exc
                raise

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the transport might accept data without blocking."""
        with self._send_conflict:
            self._check_send()
            await self.transport_stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        """Send close_notify and half-close the transport. Idempotent.

        Raises trio.ClosedResourceError if the stream is closed, trio.BusyResourceError if
        another task is sending, trio.BrokenResourceError if the send side is broken.
        """
        with self._send_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the TLS stream is closed")
            if self._eof_sent:
                await trio.lowlevel.checkpoint()
                return
            self._check_send()
            self._eof_sent = True
            try:
                records = self._session.close_notify()
            except ProtocolError as exc:
                self._send_error = exc
                raise trio.BrokenResourceError("cannot close this TLS stream") from exc
            await self.transport_stream.send_all(records)
            if isinstance(self.transport_stream, trio.abc.HalfCloseableStream):
                await self.transport_stream.send_eof()

    def _check_send(self) -> None:
        check_sendable(
            "TLS", closed=self._closed, eof_sent=self._eof_sent, send_error=self._send_error
        )

    @property
    def cancel_safe_receive(self) -> bool:
        """A cancelled receive loses nothing when the transport's does not: ciphertext goes
        into the session and plaintext out of it without a schedule point in between."""
        return receive_is_cancel_safe(self.transport_stream)

    # -- receiving -----------------------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Return up to ``max_bytes`` decrypted bytes; ``b""`` at EOF.

        Raises:
            trio.ClosedResourceError: this stream was closed.
            trio.BrokenResourceError: the transport failed or a record failed authentication.
            trio.BusyResourceError: another task is receiving.
        """
        max_bytes = checked_max_bytes(max_bytes)
        limit = max_bytes or self._receive_size
        with self._receive_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the TLS stream is closed")
            while True:
                self._check_receive()
                if not self._eof:
                    await trio.lowlevel.checkpoint_if_cancelled()
                    try:
                        plain = self._session.decrypt(limit)
                    except ProtocolError as exc:
                        self._receive_error = exc
                        self._check_receive()
                        raise  # pragma: no cover - _check_receive raised
                    if plain is not None:
                        await trio.lowlevel.cancel_shielded_checkpoint()
                        if not plain:
                            self._eof = True
                        return plain
                if self._eof:
                    await trio.lowlevel.checkpoint()
                    return b""
                data = await self.transport_stream.receive_some(self._receive_size)
                if not data:
                    self._eof = True
                else:
                    self._session.receive_data(data)

    def _check_receive(self) -> None:
        if self._receive_error is not None:
            raise trio.BrokenResourceError("the TLS stream is broken") from self._receive_error

    # -- closing -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the stream and its transport. Idempotent; closes even when cancelled."""
        self._closed = True
        await self.transport_stream.aclose()
