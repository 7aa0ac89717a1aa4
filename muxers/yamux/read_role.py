"""ReadRole: which task reads a Yamux session's transport.

One task at a time reads. The reader (the session's own task, or a reader task over a
transport whose reads are not cancel-safe) reads while no application task waits for data. A
task blocked in ``YamuxStream.receive_some`` reads the transport itself instead, when the
transport's reads are cancel-safe (``direct``): the message it waits for then reaches it
without a task switch. It asks the reader to step aside by cancelling the reader's current
read, which loses nothing. Whoever ends a read wakes the first waiting receiver, or else the
reader.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, final

import trio
from trio.lowlevel import ParkingLot, cancel_shielded_checkpoint

if TYPE_CHECKING:
    from p2pstack.muxers.yamux.stream import YamuxStream


@final
class ReadRole:
    """Hands the transport reads of one session to one task at a time.

    Args:
        read_once: reads the transport once and feeds the session (never raises for
            transport failures; cancellation loses nothing when ``direct``).
    """

    def __init__(self, read_once: Callable[[], Awaitable[None]]) -> None:
        self._read_once = read_once
        self.direct = False
        """Receivers may read themselves (the transport's reads are cancel-safe)."""
        self.reading = False
        self.reader_stream: YamuxStream | None = None
        """The stream whose receiver is reading (None: the reader task, or nobody)."""
        self._scope: trio.CancelScope | None = None
        self._waiters: list[YamuxStream] = []
        self._reader_lot: ParkingLot | None = None
        """Where the reader waits while a receiver reads (created on first use)."""

    async def receive_for(self, stream: YamuxStream) -> None:
        """Wait until something may have happened to ``stream`` (data, FIN, reset, the
        session ending): read the transport now if nobody else is, else wait to be woken."""
        if not self.direct:
            await stream.park_receiver()
            return
        if not self.reading:
            self.reading = True
            try:
                with trio.CancelScope() as self._scope:  # cancelled by interrupt()
                    self.reader_stream = stream
                    await self._read_once()
            finally:
                self._scope = self.reader_stream = None
                self._end_read()
            return
        waiters = self._waiters
        waiters.append(stream)
        if self.reader_stream is None and self._scope is not None:
            self._scope.cancel()  # the reader task steps aside
        try:
            await stream.park_receiver()
        finally:
            waiters.remove(stream)
            if not self.reading:
                self._end_read()

    def interrupt(self, stream: YamuxStream) -> None:
        """Stop ``stream``'s task reading the transport for it (it was closed locally)."""
        if self.reader_stream is stream and self._scope is not None:
            self._scope.cancel()

    async def run_reader(self, alive: Callable[[], bool]) -> None:
        """A reader task: read whenever no receiver does, while ``alive()``."""
        while alive():
            await self.step()

    async def step(self) -> None:
        """One turn of the reader: read once if no receiver reads or waits to, else wait
        until the transport is free. Cancellation loses nothing when ``direct``."""
        if self.reading or self._waiters:
            if self._reader_lot is None:
                self._reader_lot = ParkingLot()
            await self._reader_lot.park()
            if not (self.reading or self._waiters):
                # Give the receiver that just read one round to take the next read.
                await cancel_shielded_checkpoint()
            return
        self.reading = True
        try:
            if self.direct:
                with trio.CancelScope() as self._scope:
                    await self._read_once()
            else:
                await self._read_once()
        finally:
            self._scope = None
            self._end_read()

    def _end_read(self) -> None:
        """The transport is free: wake the first waiting receiver, or else the reader task."""
        self.reading = False
        if self._waiters:
            self._waiters[0].wake()
        elif self._reader_lot:
            self._reader_lot.unpark_all()
