"""The session's write path: senders write from their own task, cancellation never tears a
frame, and blocked senders are woken one at a time (no thundering herd)."""

from __future__ import annotations

import pytest
import trio
import trio.lowlevel
import trio.testing

from p2pstack.muxers.yamux import YamuxConfig, YamuxSession, YamuxStream
from p2pstack.muxers.yamux.write_path import SEND_HIGH_WATER
from p2pstack.role import Role
from tests.helpers.streams import Passthrough

KiB = 1024


class _PiecewiseStream(Passthrough):
    """Forwards to ``inner`` but sends in small pieces with a schedule point between them,
    so a cancellation can land in the middle of a write."""

    def __init__(self, inner: trio.abc.Stream, piece: int = 1000) -> None:
        super().__init__(inner)
        self.piece = piece
        self.writing = trio.Event()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), self.piece):
            await self.inner.send_all(view[start : start + self.piece])
            self.writing.set()
            await trio.lowlevel.checkpoint()


async def test_cancelled_send_never_tears_a_frame() -> None:
    left, right = trio.testing.memory_stream_pair()
    slow = _PiecewiseStream(left)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            client = YamuxSession(slow, role=Role.INITIATOR)
            server = YamuxSession(right, role=Role.RESPONDER)
            await nursery.start(client.run)
            await nursery.start(server.run)
            out = await client.open_stream()
            await client.ping()
            slow.writing = trio.Event()
            with trio.CancelScope() as scope:

                async def cancel_mid_write() -> None:
                    await slow.writing.wait()
                    scope.cancel()

                nursery.start_soon(cancel_mid_write)
                await out.send_all(bytes(1024 * KiB))
            assert scope.cancelled_caught
            # The session is intact: the frame being written when the cancel came was
            # completed (the peer parsed the whole initial window), and a second stream
            # carries a message.
            second = await client.open_stream()
            await second.send_all(b"after the cancel")
            await second.send_eof()
            first_in = await server.accept_stream()
            second_in = await server.accept_stream()
            got = b""
            while chunk := await second_in.receive_some():
                got += chunk
            assert got == b"after the cancel"
            assert first_in.record.buffered == 256 * KiB
            assert not server.is_closed
            assert not client.is_closed
            await client.aclose()
            await server.aclose()


async def test_drained_output_wakes_blocked_senders_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wakes: list[int] = []
    original = YamuxStream.wake_sender

    def counting(self: YamuxStream) -> None:
        wakes.append(self.stream_id)
        original(self)

    monkeypatch.setattr(YamuxStream, "wake_sender", counting)
    count = 128
    config = YamuxConfig(max_streams=count + 16, accept_backlog=count + 16)
    left, right = trio.testing.lockstep_stream_pair()
    session = YamuxSession(left, role=Role.INITIATOR, config=config)
    total = 0
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(session.run)

            async def sender() -> None:
                stream = await session.open_stream()
                await stream.send_all(bytes(64 * KiB))

            for _ in range(count):
                nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            # Nothing was read yet: one task is writing, the rest queued up to the high
            # water mark and wait for the queue to drain.
            assert session.write_path.out_bytes >= SEND_HIGH_WATER
            assert session.write_path.num_drain_waiters > count // 2
            while total < count * 64 * KiB:
                chunk = await right.receive_some(256 * KiB)
                assert chunk
                total += len(chunk)

            async def drain_rest() -> None:
                while await right.receive_some(256 * KiB):
                    pass

            nursery.start_soon(drain_rest)
            await session.aclose()
    # Every waiter is woken about once; waking all waiters on every drained write would
    # wake them thousands of times.
    assert len(wakes) <= 2 * count
