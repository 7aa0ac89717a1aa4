"""NoiseStream: the trio adapter that runs Noise transport encryption over a byte stream."""

from __future__ import annotations

from typing import Final, final

import trio

from p2pstack.abc.security import SecureStream
from p2pstack.conflict import ConflictDetector
from p2pstack.errors import ProtocolError, UnexpectedEOF
from p2pstack.identity.keys import PublicKey
from p2pstack.identity.peer_id import PeerId
from p2pstack.security.noise.cipher import BytesLike, FrameDecryptor, FrameEncryptor
from p2pstack.stream_ops import (
    atomic_send_of,
    check_sendable,
    checked_max_bytes,
    receive_into_of,
    receive_is_cancel_safe,
)

DEFAULT_RECEIVE_SIZE: Final = 256 * 1024
"""How much ciphertext one read from the transport asks for."""
_IDLE_RECEIVE_SIZE: Final = 16 * 1024
"""Bytes asked for by a read while no ciphertext buffer is kept. Such a read uses the
transport's ``receive_some``, whose bytes exist only once data arrived, so an idle connection
waiting for its peer holds no buffer."""
_FIRST_KEPT_SIZE: Final = 64 * 1024
"""Size of the ciphertext buffer kept once reads fill their buffer (a busy connection); it
grows (up to the receive size) while reads fill it."""
_SMALL_READ: Final = 4 * 1024
"""A read of fewer bytes releases the kept ciphertext buffer: the traffic is light."""
_MAX_KEPT_SEND_BUFFER: Final = 1024 * 1024
"""Larger encrypted writes use a one-off buffer instead of growing the kept one."""


@final
class NoiseStream(SecureStream):
    """A Noise-encrypted :class:`SecureStream` over a transport stream.

    Writes become frames of at most 65519 plaintext bytes, all sent with one ``send_all`` on
    the transport. Reads take large chunks, decrypt every complete frame and buffer the rest.
    ``send_eof`` passes through to the transport (which must be half-closeable); Noise has no
    close message of its own.

    A failed frame authentication, an EOF inside a frame or nonce exhaustion breaks the stream
    for good: ``BrokenResourceError`` with a ProtocolError (e.g. ``NoiseDecryptError``) as cause.
    A ``send_all`` interrupted after encrypting (cancelled, or the transport failed) leaves the
    send side broken, since the nonces it used may or may not have reached the peer.
    """

    __slots__ = (
        "_cipher_buffer",
        "_closed",
        "_decryptor",
        "_encryptor",
        "_eof",
        "_eof_sent",
        "_plain",
        "_plain_offset",
        "_receive_conflict",
        "_receive_error",
        "_receive_into",
        "_receive_size",
        "_send_buffer",
        "_send_conflict",
        "_send_error",
        "_send_frames",
        "local_peer",
        "remote_peer",
        "remote_public_key",
        "transport_stream",
    )

    def __init__(
        self,
        transport_stream: trio.abc.Stream,
        *,
        send_key: bytes,
        recv_key: bytes,
        local_peer: PeerId,
        remote_peer: PeerId,
        remote_public_key: PublicKey,
        initial_data: bytes = b"",
        receive_size: int = DEFAULT_RECEIVE_SIZE,
    ) -> None:
        self.transport_stream = transport_stream
        self.local_peer = local_peer
        self.remote_peer = remote_peer
        self.remote_public_key = remote_public_key
        self._encryptor = FrameEncryptor(send_key)
        self._decryptor = FrameDecryptor(recv_key)
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
        self._plain = bytearray()
        self._plain_offset = 0
        # Reused buffers: ciphertext read from the transport (never handed out) and encrypted
        # output (only the transport sees it, and only until its send_all returns).
        self._receive_into = receive_into_of(transport_stream)
        self._send_frames = atomic_send_of(transport_stream) or self._send_shielded
        self._cipher_buffer: bytearray | None = None
        self._send_buffer = bytearray()
        if initial_data:
            try:
                self._plain = self._decryptor.feed(initial_data)
            except ProtocolError as exc:
                self._receive_error = exc

    # -- sending -------------------------------------------------------------------------------

    async def send_all(self, data: BytesLike) -> None:
        """Encrypt and send all of ``data``; ``b""`` sends nothing.

        Raises:
            trio.ClosedResourceError: this stream was closed, or ``send_eof`` was called.
            trio.BrokenResourceError: the transport failed, or an earlier send was interrupted.
            trio.BusyResourceError: another task is sending.
        """
        await self._send(data, atomic=False)

    async def send_all_atomic(self, data: BytesLike) -> None:
        """As :meth:`send_all`, but a cancellation waits until all of ``data`` is sent (see
        :class:`~p2pstack.stream_ops.SendsAtomically`)."""
        await self._send(data, atomic=True)

    async def _send(self, data: BytesLike, *, atomic: bool) -> None:
        with self._send_conflict:
            self._check_send()
            if not atomic:
                await trio.lowlevel.checkpoint_if_cancelled()
            encryptor = self._encryptor
            need = encryptor.encrypted_size(memoryview(data).nbytes)
            if not need:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return
            out = self._send_buffer
            if len(out) < need:
                out = bytearray(need)
                if need <= _MAX_KEPT_SEND_BUFFER:
                    self._send_buffer = out
            try:
                encryptor.encrypt_into(data, out)
            except ProtocolError as exc:
                self._send_error = exc
                raise trio.BrokenResourceError("cannot encrypt on this Noise stream") from exc
            try:
                with memoryview(out) as view, view[:need] as frames:
                    if atomic:
                        await self._send_frames(frames)
                    else:
                        await self.transport_stream.send_all(frames)
            except BaseException as exc:
                self._send_error = exc
                raise

    async def _send_shielded(self, frames: memoryview) -> None:
        with trio.CancelScope(shield=True):
            await self.transport_stream.send_all(frames)

    async def wait_send_all_might_not_block(self) -> None:
        """Wait until the transport might accept data without blocking."""
        with self._send_conflict:
            self._check_send()
            await self.transport_stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        """Close our sending direction; the peer reads EOF after all data sent so far.

        Idempotent. Raises trio.ClosedResourceError if the stream is closed,
        trio.BusyResourceError if another task is sending, and trio.BrokenResourceError if
        the transport cannot half-close.
        """
        with self._send_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the Noise stream is closed")
            if self._eof_sent:
                await trio.lowlevel.checkpoint()
                return
            transport = self.transport_stream
            if not isinstance(transport, trio.abc.HalfCloseableStream):
                await trio.lowlevel.checkpoint()
                raise trio.BrokenResourceError(
                    "the transport under this Noise stream cannot half-close"
                )
            self._eof_sent = True
            await transport.send_eof()

    def _check_send(self) -> None:
        check_sendable(
            "Noise", closed=self._closed, eof_sent=self._eof_sent, send_error=self._send_error
        )

    @property
    def cancel_safe_receive(self) -> bool:
        """A cancelled receive loses nothing when the transport's does not: decrypted bytes
        are returned or kept without a schedule point in between."""
        return receive_is_cancel_safe(self.transport_stream)

    # -- receiving -----------------------------------------------------------------------------

    @property
    def kept_receive_buffer(self) -> int:
        """Bytes of the ciphertext buffer kept between reads: 0 while the traffic is light
        (reads then wait without one), up to the receive size on a busy connection."""
        buffer = self._cipher_buffer
        return 0 if buffer is None else len(buffer)

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Return up to ``max_bytes`` decrypted bytes (all buffered ones if None); ``b""`` at EOF.

        Raises:
            trio.ClosedResourceError: this stream was closed.
            trio.BrokenResourceError: the transport failed, a frame failed authentication, or
                the peer closed mid-frame.
            trio.BusyResourceError: another task is receiving.
        """
        max_bytes = checked_max_bytes(max_bytes)
        with self._receive_conflict:
            if self._closed:
                raise trio.ClosedResourceError("the Noise stream is closed")
            if self._plain_offset < len(self._plain):
                await trio.lowlevel.checkpoint()
                return self._take(max_bytes)
            self._check_receive()
            while not self._eof:
                data: bytes | bytearray | memoryview
                buffer, receive_into = self._cipher_buffer, self._receive_into
                if buffer is None or receive_into is None:
                    data = await self.transport_stream.receive_some(self._idle_read_size())
                    if receive_into is not None and len(data) >= _IDLE_RECEIVE_SIZE:
                        self._cipher_buffer = bytearray(
                            min(_FIRST_KEPT_SIZE, self._receive_size)
                        )  # a busy connection: read into a kept buffer from now on
                else:
                    count = await receive_into(buffer)
                    data = memoryview(buffer)[:count]
                    if count == len(buffer) < self._receive_size:  # grow for the next read
                        self._cipher_buffer = bytearray(min(4 * count, self._receive_size))
                    elif count < _SMALL_READ:  # light traffic: wait without a buffer
                        self._cipher_buffer = None
                if not data:
                    self._eof = True
                    if self._decryptor.has_partial_frame:
                        self._receive_error = UnexpectedEOF("the peer closed inside a Noise frame")
                        self._check_receive()
                    break
                try:
                    self._plain = self._decryptor.feed(data)
                except ProtocolError as exc:
                    self._receive_error = exc
                    self._check_receive()
                if self._plain:
                    self._plain_offset = 0
                    return self._take(max_bytes)
            await trio.lowlevel.checkpoint()
            return b""

    def _idle_read_size(self) -> int:
        """Bytes asked for by a read without a kept buffer: the whole receive size when the
        transport cannot read into a buffer (its reads then always allocate)."""
        if self._receive_into is None:
            return self._receive_size
        return min(_IDLE_RECEIVE_SIZE, self._receive_size)

    def _check_receive(self) -> None:
        if self._receive_error is not None:
            raise trio.BrokenResourceError("the Noise stream is broken") from self._receive_error

    def _take(self, max_bytes: int | None) -> bytes | bytearray:
        """Hand out buffered plaintext; the whole buffer (or its tail) is returned without
        copying: dropping a bytearray's head only moves its start."""
        plain, offset = self._plain, self._plain_offset
        available = len(plain) - offset
        if max_bytes is None or max_bytes >= available:
            self._plain = bytearray()
            self._plain_offset = 0
            if offset:
                del plain[:offset]
            return plain
        self._plain_offset = offset + max_bytes
        return plain[offset : offset + max_bytes]

    # -- closing -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the stream and its transport. Idempotent; closes even when cancelled."""
        self._closed = True
        self._plain = bytearray()
        self._plain_offset = 0
        self._send_buffer = bytearray()
        self._cipher_buffer = None
        await self.transport_stream.aclose()
