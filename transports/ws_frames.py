"""The WebSocket data-frame fast path: binary frames built and read without wsproto. Pure.

wsproto masks and unmasks payloads in Python (about 1 GB/s here, the largest cost of a
WebSocket upload) and copies each payload several times. Binary data frames are the bulk of
a libp2p WebSocket connection, so they take this lean path; masking uses the C routine of the
``websockets`` library (tens of GB/s). Everything else (handshake, text, fragmented messages,
control frames and every malformed frame) still goes through wsproto, which validates it.

:class:`FrameRouter` splits received bytes at frame boundaries: a complete, unfragmented,
correctly masked binary frame with no RSV bits is read here; any other frame is handed to
wsproto whole (header and payload), so wsproto's parser always starts at a frame boundary.
Once wsproto has seen a frame it could not accept, it gets every later byte.
:meth:`FrameRouter.feed_in_place` does the same inside a caller's buffer, moving payload
over the headers so that the reader gets it contiguous without a copy of its own.

Sending, :func:`binary_frames` builds all frames of a write in one buffer (one join), so
the transport gets one write for them.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Final

try:
    from websockets.speedups import apply_mask
except ImportError:  # a platform without the C extension: the library's own fallback
    from websockets.utils import apply_mask

BytesLike = bytes | bytearray | memoryview

OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
_FIN: Final = 0x80
_RSV: Final = 0x70
_MASK: Final = 0x80
_LEN16: Final = struct.Struct("!H")
_LEN64: Final = struct.Struct("!Q")


def mask(data: BytesLike, key: bytes) -> bytes:
    """``data`` XORed with the 4-byte ``key`` repeated (RFC 6455 §5.3), in C."""
    return apply_mask(data, key)


def frame_header(size: int, *, masked: bool) -> bytes:
    """The header of a final binary frame of ``size`` payload bytes (without masking key)."""
    first = _FIN | OP_BINARY
    flag = _MASK if masked else 0
    if size < 126:
        return bytes((first, flag | size))
    if size < 1 << 16:
        return bytes((first, flag | 126)) + _LEN16.pack(size)
    return bytes((first, flag | 127)) + _LEN64.pack(size)


def binary_frame(payload: BytesLike, *, masked: bool) -> bytes:
    """One final binary frame carrying ``payload``; masked with a fresh random key if asked."""
    return binary_frames(payload, frame_size=max(1, memoryview(payload).nbytes), masked=masked)


def binary_frames(payload: BytesLike, *, frame_size: int, masked: bool) -> bytes:
    """``payload`` as final binary frames of at most ``frame_size`` bytes, in one buffer.

    One copy of the payload (one join); masked frames each get a fresh random key and are
    masked in C. ``b""`` gives one empty frame.
    """
    view = memoryview(payload).cast("B")
    size = len(view)
    if size <= frame_size:
        pieces: list[BytesLike] = [frame_header(size, masked=masked)]
        if masked:
            key = os.urandom(4)
            pieces += (key, apply_mask(view, key))
        else:
            pieces.append(view)
        return b"".join(pieces)
    pieces = []
    full = frame_header(frame_size, masked=masked)
    keys = os.urandom(4 * (-(-size // frame_size))) if masked else b""
    for index, offset in enumerate(range(0, size, frame_size)):
        chunk = view[offset : offset + frame_size]
        pieces.append(full if len(chunk) == frame_size else frame_header(len(chunk), masked=masked))
        if masked:
            key = keys[4 * index : 4 * index + 4]
            pieces += (key, apply_mask(chunk, key))
        else:
            pieces.append(chunk)
    return b"".join(pieces)


class FrameRouter:
    """Splits received bytes between the fast binary path and wsproto (see the module doc).

    ``masked`` says whether the peer must mask (True when we are the server). ``to_wsproto``
    receives bytes for wsproto and returns False once wsproto must get everything from then
    on (it failed or the peer closed). ``on_data`` receives unmasked payload bytes of fast
    frames. ``max_fast`` caps the payload a fast frame may have (larger ones go to wsproto,
    which reports them against the stream's frame limit).
    """

    __slots__ = (
        "_header",
        "_in_message",
        "_key",
        "_key_offset",
        "_left",
        "_masked",
        "_max_fast",
        "_on_data",
        "_to_wsproto",
        "_wsproto_left",
        "_wsproto_only",
    )

    def __init__(
        self,
        *,
        masked: bool,
        to_wsproto: Callable[[BytesLike], bool],
        on_data: Callable[[BytesLike], None],
        max_fast: int,
    ) -> None:
        self._masked = masked
        self._to_wsproto = to_wsproto
        self._on_data = on_data
        self._max_fast = max_fast
        self._header = bytearray()  # an incomplete frame header
        self._left = 0  # payload bytes still due of the current fast frame
        self._key = b""
        self._key_offset = 0
        self._wsproto_left = 0  # bytes of the current wsproto frame still due
        self._in_message = False  # wsproto is inside a fragmented message
        self._wsproto_only = False

    def feed(self, data: BytesLike, *, shared: bool = False) -> None:
        """Route ``data``, the next bytes received after the HTTP upgrade.

        With ``shared`` (``data`` is immutable, e.g. ``bytes``), unmasked payload goes to
        ``on_data`` as memoryview slices of ``data``, not as copies.
        """
        self._route(memoryview(data).cast("B"), in_place=False, shared=shared)

    def feed_in_place(self, buffer: memoryview) -> int:
        """Route the bytes of ``buffer`` (writable), moving fast payload to its front.

        Returns ``count``: the payload of fast frames now in ``buffer[:count]`` (unmasked),
        in order, ahead of anything ``on_data`` or ``to_wsproto`` received meanwhile. Once a
        frame went to wsproto, later payload of this call goes to ``on_data`` instead, so
        the order of the stream's bytes stays that of the wire.
        """
        return self._route(buffer, in_place=True, shared=False)

    def _route(self, view: memoryview, *, in_place: bool, shared: bool) -> int:
        pos, end, count = 0, len(view), 0
        while pos < end:
            if self._wsproto_only:
                self._to_wsproto(view[pos:])
                return count
            if self._left:
                take = min(self._left, end - pos)
                self._left -= take
                if in_place:
                    count = self._compact(view, pos, take, count)
                else:
                    self._deliver(view[pos : pos + take], shared)
                pos += take
            elif self._wsproto_left:
                in_place = False
                take = min(self._wsproto_left, end - pos)
                self._wsproto_left -= take
                if not self._to_wsproto(view[pos : pos + take]):
                    self._wsproto_only = True
                    return count
                pos += take
            else:
                pos, fast = self._start_frame(view, pos)
                in_place = in_place and fast
        return count

    def _next_key(self, size: int) -> bytes:
        """The masking key for the next ``size`` payload bytes (rotated to the offset)."""
        key, offset = self._key, self._key_offset
        self._key_offset = (offset + size) % 4
        return key[offset:] + key[:offset] if offset else key

    def _deliver(self, payload: memoryview, shared: bool) -> None:
        if self._key:
            self._on_data(apply_mask(payload, self._next_key(len(payload))))
        else:
            self._on_data(payload if shared else bytes(payload))

    def _compact(self, view: memoryview, pos: int, size: int, to: int) -> int:
        """Unmask ``view[pos:pos+size]`` into ``view[to:]`` (``to <= pos``); the new end."""
        if self._key:
            view[to : to + size] = apply_mask(view[pos : pos + size], self._next_key(size))
        elif to != pos:
            view[to : to + size] = view[pos : pos + size]  # memoryview copies overlap safely
        return to + size

    def _start_frame(self, view: memoryview, pos: int) -> tuple[int, bool]:
        """Read a frame header at ``pos`` (or keep its start): the new position, and False
        once a frame went to wsproto."""
        header = self._header
        take = min(14 - len(header), len(view) - pos)
        header += view[pos : pos + take]
        if len(header) < 2:
            return pos + take, True
        b0, b1 = header[0], header[1]
        length = b1 & 0x7F
        size = 2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if b1 & _MASK else 0)
        if len(header) < size:
            return pos + take, True
        used = pos + take - (len(header) - size)  # the position just after this header
        if length == 126:
            length = _LEN16.unpack_from(header, 2)[0]
            minimal = length >= 126
        elif length == 127:
            length = _LEN64.unpack_from(header, 2)[0]
            minimal = 1 << 16 <= length < 1 << 63
        else:
            minimal = True
        opcode = b0 & 0x0F
        fast = (
            b0 & (_FIN | _RSV | 0x0F) == _FIN | OP_BINARY
            and bool(b1 & _MASK) == self._masked
            and minimal
            and 0 < length <= self._max_fast
            and not self._in_message
        )
        head = bytes(header[:size])
        header.clear()
        if fast:
            self._key = head[-4:] if self._masked else b""
            self._key_offset = 0
            self._left = length
            return used, True
        if opcode in (OP_TEXT, OP_BINARY) and not b0 & _FIN:
            self._in_message = True
        elif opcode == OP_CONTINUATION and b0 & _FIN:
            self._in_message = False
        self._wsproto_left = length if minimal else 0
        if not self._to_wsproto(head) or not minimal:
            self._wsproto_only = True
        return used, False
