"""YamuxFrameDecoder: splits the peer's byte stream into Yamux frames, whatever the read sizes.

Headers are decoded with :func:`~p2pstack.muxers.yamux.frames.unpack_header`; a header split
across reads is completed from the next one. Data payloads are handed on as they arrive (a
frame's payload may come in several pieces), as views of the caller's buffer unless small
(see :data:`PIN_RATIO`). Pure: no I/O, no time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, final

from p2pstack.muxers.yamux.frames import (
    DATA,
    FIN,
    HEADER_SIZE,
    PING,
    RST,
    WINDOW_UPDATE,
    unpack_header,
)

T = TypeVar("T")

#: A payload piece smaller than 1/PIN_RATIO of the buffer it came in is copied, so small
#: frames cannot pin large receive buffers in memory (full 64 KiB frames in reads of up to
#: 512 KiB, or a little more, are kept as views: no copy).
PIN_RATIO = 32

_END_FLAGS = FIN | RST


@final
class YamuxFrameDecoder(Generic[T]):
    """Calls one handler per frame, in order, until :meth:`stop`.

    Args:
        on_data: a Data header ``(stream_id, flags, length)``; returns the target its payload
            goes to, or None to drop the payload.
        on_payload: ``(target, piece)`` for each payload piece of a targeted Data frame.
        on_data_end: ``(stream_id, flags)`` once the whole payload of a Data frame with FIN
            or RST has passed.
        on_window_update: ``(stream_id, flags, delta)``.
        on_ping: ``(flags, opaque)``.
        on_go_away: ``(code)``.

    A handler may raise (a protocol violation); the decoder is then unusable.
    """

    __slots__ = (
        "_flags",
        "_left",
        "_on_data",
        "_on_data_end",
        "_on_go_away",
        "_on_payload",
        "_on_ping",
        "_on_window_update",
        "_partial",
        "_sid",
        "_stopped",
        "_target",
    )

    def __init__(
        self,
        *,
        on_data: Callable[[int, int, int], T | None],
        on_payload: Callable[[T, memoryview | bytes], None],
        on_data_end: Callable[[int, int], None],
        on_window_update: Callable[[int, int, int], None],
        on_ping: Callable[[int, int], None],
        on_go_away: Callable[[int], None],
    ) -> None:
        self._on_data = on_data
        self._on_payload = on_payload
        self._on_data_end = on_data_end
        self._on_window_update = on_window_update
        self._on_ping = on_ping
        self._on_go_away = on_go_away
        self._partial = bytearray()
        self._left = 0
        self._target: T | None = None
        self._sid = 0
        self._flags = 0
        self._stopped = False

    def stop(self) -> None:
        """Ignore every byte from now on (the session ended)."""
        self._stopped = True

    def feed(self, view: memoryview) -> None:
        """Decode ``view`` (payload pieces handed on may be views of it: keep it unchanged).

        Raises:
            FrameDecodeError: a malformed header; or whatever a handler raises.
        """
        end = len(view)
        pos = self._feed_payload(view, 0) if self._left else 0
        partial = self._partial
        while not self._stopped:
            if partial:
                take = min(HEADER_SIZE - len(partial), end - pos)
                partial += view[pos : pos + take]
                pos += take
                if len(partial) < HEADER_SIZE:
                    return
                ftype, flags, sid, length = unpack_header(partial)
                partial.clear()
            elif end - pos >= HEADER_SIZE:
                ftype, flags, sid, length = unpack_header(view, pos)
                pos += HEADER_SIZE
            else:
                if pos < end:
                    partial += view[pos:end]
                return
            if ftype == DATA:
                self._target = self._on_data(sid, flags, length)
                self._left = length
                self._sid = sid
                self._flags = flags
                pos = self._feed_payload(view, pos)
            elif ftype == WINDOW_UPDATE:
                self._on_window_update(sid, flags, length)
            elif ftype == PING:
                self._on_ping(flags, length)
            else:
                self._on_go_away(length)

    def _feed_payload(self, view: memoryview, pos: int) -> int:
        """Hand on (or drop) payload bytes of the current Data frame; return the new pos."""
        take = min(self._left, len(view) - pos)
        if take:
            self._left -= take
            target = self._target
            if target is not None:
                piece: memoryview | bytes = view[pos : pos + take]
                if take * PIN_RATIO < len(view):
                    piece = bytes(piece)
                self._on_payload(target, piece)
        if not self._left:
            self._target = None
            if self._flags & _END_FLAGS:
                self._on_data_end(self._sid, self._flags)
        return pos + take
