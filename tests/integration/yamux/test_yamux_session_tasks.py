"""The tasks a session runs: over a cancel-safe transport an idle session runs only its own
task (it reads and drives the timers; a writer task exists only while it has output), over
other transports a reader task besides; the timers fire while the session's task reads."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from p2pstack.muxers.yamux import KeepAliveTimeout, YamuxConfig, YamuxSession
from p2pstack.role import Role
from tests.helpers.yamux import RawPeer, memory_pair, start_pair, tcp_pair
from tests.helpers.yamux_core import ACK, PING, SYN, frame


def helper_tasks(nursery: trio.Nursery) -> list[list[trio.lowlevel.Task]]:
    """For each session task started in ``nursery``: the tasks it runs in its own nursery."""
    return [
        [task for inner in run.child_nurseries for task in inner.child_tasks]
        for run in nursery.child_tasks
    ]


async def test_idle_session_over_tcp_runs_no_task_but_its_own() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            client, server = await start_pair(nursery, tcp_pair)
            await trio.testing.wait_all_tasks_blocked()
            assert helper_tasks(nursery) == [[], []]
            # a ping's answer is the peer session's own output: a writer task sends it and ends
            assert await client.ping() > 0
            stream = await client.open_stream()
            await stream.send_all(b"hello")
            inbound = await server.accept_stream()
            assert await inbound.receive_some() == b"hello"
            await inbound.send_all(b"back")
            assert await stream.receive_some() == b"back"
            await trio.testing.wait_all_tasks_blocked()
            assert helper_tasks(nursery) == [[], []]
            await client.aclose()
            await server.aclose()


async def test_session_over_a_memory_stream_runs_a_reader_task() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            client, server = await start_pair(nursery, memory_pair)
            await trio.testing.wait_all_tasks_blocked()
            assert [len(tasks) for tasks in helper_tasks(nursery)] == [1, 1]
            assert await client.ping() > 0
            assert await server.ping() > 0
            await client.aclose()
            await server.aclose()


async def test_keepalive_while_the_session_task_reads_tcp(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The session's task waits in its transport read with the keepalive deadline on it."""
    config = YamuxConfig(keepalive_interval=30.0, keepalive_timeout=10.0)
    async with trio.open_nursery() as nursery:
        left, right = await tcp_pair()
        session = YamuxSession(left, role=Role.RESPONDER, config=config)
        await nursery.start(session.run)
        assert session.read_role.direct
        peer = RawPeer(right)
        start = trio.current_time()
        assert await peer.next_frame() == (PING, SYN, 0, 0, b"")
        await peer.send(frame(PING, ACK, 0, 0))
        assert await peer.next_frame() == (PING, SYN, 0, 1, b"")
        assert trio.current_time() - start == pytest.approx(30.0)
        await session.wait_closed()  # never answered
        assert trio.current_time() - start == pytest.approx(40.0)
        await right.aclose()
    assert isinstance(session.close_reason, KeepAliveTimeout)


class StuckRead(trio.abc.Stream):
    """A transport whose reads wait (shielded, so a reader task is stuck in one) until
    released, then see EOF; writes complete at once."""

    def __init__(self) -> None:
        self.release = trio.Event()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        with trio.CancelScope(shield=True):
            await self.release.wait()
        return b""

    async def aclose(self) -> None:
        self.release.set()
        await trio.lowlevel.checkpoint()


async def test_output_queued_while_the_session_is_cancelled_starts_no_writer() -> None:
    """While a cancelled session's nursery waits for its stuck reader task, a stream closed
    by another task queues output: the close does not fail and the session still ends.
    (The narrower race, output queued after the nursery closed and before the session's
    task resumed, is only hit by chance: tests/attack's come-back flood found it.)"""
    transport = StuckRead()
    session = YamuxSession(transport, role=Role.INITIATOR)
    scope = trio.CancelScope()

    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            await session.run(task_status=task_status)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(run)
            stream = await session.open_stream()
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
            await trio.testing.wait_all_tasks_blocked()  # run's nursery waits for the reader
            assert not session.is_closed
            await stream.aclose()
            transport.release.set()
        await session.wait_closed()
