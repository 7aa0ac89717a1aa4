"""The circuit: a relayed byte pipe, as seen by its two ends and spliced by the relay.

:class:`CircuitStream` is what the dialling and the listening client get once the hop or stop
handshake said OK: a half-closeable trio stream over the negotiated hop/stop stream (bytes
the handshake read ahead are served first). It remembers the relay's :class:`Limit`; when the
relay cuts the circuit at that limit the stream's error says so (``BrokenResourceError``
caused by ``LimitExceeded(limit="relay.circuit.data" | "relay.circuit.duration",
local=False)``) — judged from the bytes this end has seen: a reset after half the data
allowance (both directions together), or near the duration limit, is taken to be the cut.

:func:`splice` is the relay's side: it copies both directions between the hop stream (from
the dialler) and the stop stream (to the destination), enforcing the same limit, and resets
both streams when it is reached, as go-libp2p relays do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.bufstream import BufferedStream
from p2pstack.conflict import ConflictDetector
from p2pstack.errors import LimitExceeded, StackError
from p2pstack.stream_ops import receive_is_cancel_safe

if TYPE_CHECKING:
    from p2pstack.host.netstream import NetStream
    from p2pstack.identity import PeerId
    from p2pstack.protocols.relay.messages import Limit

logger: Final = logging.getLogger("p2pstack.relay")

DATA_LIMIT: Final = "relay.circuit.data"
DURATION_LIMIT: Final = "relay.circuit.duration"
_DURATION_SLACK: Final = 0.5
LINGER: Final = 2.0
"""Seconds a closed circuit end waits for the other end's end-of-stream (see ``aclose``)."""


class CircuitStream(trio.abc.HalfCloseableStream):
    """One end of a relayed circuit; wraps the hop (dialler) or stop (listener) stream."""

    def __init__(
        self,
        stream: trio.abc.HalfCloseableStream,
        *,
        limit: Limit | None = None,
        relay: PeerId | None = None,
        remote_peer: PeerId | None = None,
        spawn: Callable[[Callable[[], Awaitable[None]]], None] | None = None,
    ) -> None:
        self.stream = stream
        self._spawn = spawn
        self.limit = limit
        self.relay = relay
        self.remote_peer = remote_peer
        self.bytes_sent = 0
        self.bytes_received = 0
        self.opened_at = trio.current_time()
        self._closed = trio.Event()
        self._closed_here = False
        self._failure: trio.BrokenResourceError | None = None
        self._sending = ConflictDetector("another task is sending on this circuit")
        self._receiving = ConflictDetector("another task is receiving on this circuit")
        self.cancel_safe_receive = _cancel_safe(stream)
        """A cancelled receive loses nothing when the stream below loses nothing (checked
        once, as its users do): the Yamux session of the relayed connection then reads the
        circuit from the receiving task itself instead of switching to its reader task."""

    @property
    def limited(self) -> bool:
        """True when the relay announced a limit for this circuit."""
        return self.limit is not None and not self.limit.is_unlimited

    def _limit_reached(self) -> LimitExceeded | None:
        limit = self.limit
        if limit is None:
            return None
        # go counts each direction, js both together, and bytes still in flight towards us
        # count at the relay but not here: a reset after half the allowance is the limit.
        if limit.data and 2 * (self.bytes_sent + self.bytes_received) >= limit.data:
            return LimitExceeded(
                f"the relay cut the circuit at its data limit of {limit.data} bytes",
                limit=DATA_LIMIT,
                local=False,
            )
        elapsed = trio.current_time() - self.opened_at
        if limit.duration and elapsed >= limit.duration - _DURATION_SLACK:
            return LimitExceeded(
                f"the relay cut the circuit at its duration limit of {limit.duration} s",
                limit=DURATION_LIMIT,
                local=False,
            )
        return None

    def _broken(self, exc: trio.BrokenResourceError) -> trio.BrokenResourceError:
        """The error to raise for ``exc``: caused by LimitExceeded if the relay cut us.

        Remembered: once broken, every later call raises ``BrokenResourceError`` too (the
        underlying stream may be closed by then, which would otherwise say "closed").
        """
        self._closed.set()
        reached = self._limit_reached()
        if reached is None:
            error = exc
        else:
            reached.__cause__ = exc
            error = trio.BrokenResourceError(str(reached))
            error.__cause__ = reached
        if self._failure is None:
            self._failure = error
        return error

    def _check_usable(self) -> None:
        """Raise what the trio stream contract asks after our close or an earlier break."""
        if self._closed_here:
            raise trio.ClosedResourceError("this circuit was closed")
        if self._failure is not None:
            raise trio.BrokenResourceError("the circuit broke earlier") from self._failure

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        with self._sending:
            self._check_usable()
            try:
                await self.stream.send_all(data)
            except trio.BrokenResourceError as exc:
                error = self._broken(exc)
                raise error from error.__cause__
            self.bytes_sent += len(data)

    async def wait_send_all_might_not_block(self) -> None:
        with self._sending:
            self._check_usable()
            await self.stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        with self._receiving:
            self._check_usable()
            try:
                data = bytes(await self.stream.receive_some(max_bytes))
            except trio.BrokenResourceError as exc:
                error = self._broken(exc)
                raise error from error.__cause__
            self.bytes_received += len(data)
            return data

    async def send_eof(self) -> None:
        with self._sending:
            self._check_usable()
            try:
                await self.stream.send_eof()
            except trio.BrokenResourceError as exc:
                error = self._broken(exc)
                raise error from error.__cause__

    async def aclose(self) -> None:
        """Close this end. With ``spawn`` (a task starter, e.g. the relay connection's), the
        close lingers in that task: end-of-stream first, then the other end's bytes are
        read and dropped until its end-of-stream (at most :data:`LINGER` seconds), then
        the stream closes. The relay then sees both ends finish rather than a reset
        answering its last bytes."""
        first = not self._closed_here
        self._closed_here = True
        self._closed.set()
        if first and self._spawn is not None and self._failure is None:
            try:
                self._spawn(self._linger_close)
            except StackError:
                pass  # the connection to the relay is gone: close at once
            else:
                await trio.lowlevel.checkpoint()
                return
        await self.stream.aclose()

    async def _linger_close(self) -> None:
        stream = self.stream
        with trio.move_on_after(LINGER):
            try:
                await stream.send_eof()
                while await stream.receive_some():
                    pass
            except (
                trio.BrokenResourceError,
                trio.ClosedResourceError,
                trio.BusyResourceError,
                StackError,
            ) as exc:
                logger.debug("circuit close: %r", exc)
        await stream.aclose()

    async def wait_closed(self) -> None:
        """Wait until the circuit was closed or broke."""
        await self._closed.wait()

    def __repr__(self) -> str:
        return f"<CircuitStream via {self.relay} to {self.remote_peer} limit={self.limit}>"


def _cancel_safe(stream: trio.abc.Stream) -> bool:
    """Whether a cancelled ``receive_some`` on ``stream`` loses nothing: it says so, or it is
    a :class:`BufferedStream` (which checkpoints before taking read-ahead bytes, and
    otherwise passes the call through) over a stream that does."""
    if receive_is_cancel_safe(stream):
        return True
    return isinstance(stream, BufferedStream) and receive_is_cancel_safe(stream.stream)


# ----------------------------------------------------------------------- relay side


class _LimitHit(Exception):
    pass


class _DestinationGone(Exception):
    """Writing to the destination failed (``__cause__`` says how)."""


def _ready_bytes(stream: NetStream) -> Callable[[], int]:
    """A function telling how many bytes ``stream`` holds ready to read: its read-ahead
    bytes plus what its Yamux stream has buffered (the muxer's read-only ``record``);
    read-ahead only for other muxers."""
    record = getattr(stream.muxed, "record", None)
    if record is None or not isinstance(getattr(record, "buffered", None), int):
        return lambda: stream.buffered
    return lambda: stream.buffered + int(record.buffered)


async def _gather(
    src: NetStream, first: bytes | bytearray, room: int, ready: Callable[[], int]
) -> bytes | bytearray:
    """``first`` and the bytes ``src`` already holds, up to ``room`` in all, as one buffer:
    one write downstream instead of one per muxer read (each read returns at most one
    receive limit, 256 KiB for Yamux). Reads only what is ready, so it never waits. A read
    that fails ends the gathering: what was read is still forwarded, and the copy loop's
    next read meets the same error (a reset or a failed session stays so)."""
    parts = [first]
    size = len(first)
    while size < room and ready():
        try:
            more = await src.receive_some(room - size)
        except (trio.BrokenResourceError, trio.ClosedResourceError, StackError):
            break
        if not more:  # cannot happen with bytes ready; the next read sees the end
            break
        parts.append(more)
        size += len(more)
    return parts[0] if len(parts) == 1 else b"".join(parts)


@dataclass
class SpliceResult:
    """How a spliced circuit ended and what it carried."""

    reason: str
    """``closed`` (both sides finished), ``data_limit``, ``duration_limit`` or ``reset``
    (a side reset or failed)."""
    bytes_forward: int = 0
    """Bytes from the dialler to the destination."""
    bytes_backward: int = 0


async def splice(
    a: NetStream,
    b: NetStream,
    *,
    duration: float = 0,
    data: int = 0,
    buffer: int = 64 * 1024,
    on_bytes: Callable[[int], None] | None = None,
    result: SpliceResult | None = None,
) -> SpliceResult:
    """Copy ``a`` <-> ``b`` until both directions end or a limit is reached.

    Each copy step reads once, adds what the source already holds (never waiting), and
    writes at most ``buffer`` bytes downstream in one ``send_all``.

    ``data`` caps each direction (0 = none), ``duration`` the whole circuit (0 = none). An
    end-of-stream is forwarded as a half-close. On a limit or an error both streams are
    reset; after a clean end both are closed. A side that closes after sending its
    end-of-stream, or after receiving the other side's, ended normally (``closed``), even
    if its muxer answers bytes still in flight with a reset: that is how a finished relayed
    connection usually ends.

    ``result`` (default: a new one) is filled in as the copy goes, so that a caller
    cancelled from outside (the dialler's connection closed under the handler) still
    reads how the circuit ended: ``closed`` if a side had finished, else ``reset``.
    """
    result = result if result is not None else SpliceResult("closed")
    eof_from: set[bool] = set()
    """Which sides sent their end-of-stream (True: ``a``, the dialler)."""
    dst_gone: set[bool] = set()
    """Which sides could no longer be written to."""
    copy_errors = (trio.BrokenResourceError, trio.ClosedResourceError, StackError)
    ready = {True: _ready_bytes(a), False: _ready_bytes(b)}
    """How many bytes each source can hand out without waiting (by direction)."""

    async def pump(src: NetStream, dst: NetStream, forward: bool, scope: trio.CancelScope) -> None:
        sent = 0
        try:
            while True:
                room = buffer if not data else min(buffer, data - sent)
                if data and room <= 0:
                    # At the limit: a clean end is still fine, anything more is not.
                    if await src.receive_some(1):
                        raise _LimitHit
                    eof_from.add(forward)
                    await _forward(dst, None)
                    return
                chunk = await src.receive_some(room)
                if not chunk:
                    eof_from.add(forward)
                    await _forward(dst, None)
                    return
                if len(chunk) < room and ready[forward]():
                    chunk = await _gather(src, chunk, room, ready[forward])
                await _forward(dst, chunk)
                sent += len(chunk)
                if forward:
                    result.bytes_forward += len(chunk)
                else:
                    result.bytes_backward += len(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
        except _LimitHit:
            if result.reason == "closed":
                result.reason = "data_limit"
            scope.cancel()
        except _DestinationGone as gone:
            # Normal if dst had finished sending and then closed its end; the other pump
            # (reading dst) tells: an end-of-stream, or the error that makes this a reset.
            logger.debug("circuit destination gone: %r", gone.__cause__)
            dst_gone.add(not forward)
        except copy_errors as exc:
            if (not forward) in eof_from and isinstance(exc, trio.BrokenResourceError):
                # src went away after receiving all the other side sent, end-of-stream
                # included: a side closing a finished connection (its muxer answers the
                # late bytes with a reset), not an abort.
                logger.debug("circuit copy ended after the other side finished: %r", exc)
                eof_from.add(forward)  # as good as an end-of-stream
                return
            _failed(exc, scope)

    async def _forward(dst: NetStream, chunk: bytes | bytearray | None) -> None:
        try:
            if chunk is None:
                await dst.send_eof()
            else:
                await dst.send_all(chunk)
        except copy_errors as exc:
            raise _DestinationGone from exc

    def _failed(exc: BaseException | None, scope: trio.CancelScope) -> None:
        logger.debug("circuit copy ended: %r", exc)
        if result.reason == "closed":
            result.reason = "reset"
        scope.cancel()

    deadline = trio.current_time() + duration if duration else float("inf")
    finished = False
    try:
        with trio.CancelScope(deadline=deadline) as outer:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(pump, a, b, True, nursery.cancel_scope)
                nursery.start_soon(pump, b, a, False, nursery.cancel_scope)
        finished = True
    finally:
        if not finished and not eof_from and result.reason == "closed":
            result.reason = "reset"  # cut off from outside before either side finished
    if outer.cancelled_caught and result.reason == "closed":
        result.reason = "duration_limit"
    if result.reason == "closed" and not dst_gone <= eof_from:
        result.reason = "reset"
    with trio.CancelScope(shield=True), trio.move_on_after(5):
        if result.reason == "closed":
            await a.aclose()
            await b.aclose()
        else:
            await a.reset()
            await b.reset()
    return result
