"""What an idle connection costs: the tasks it runs, and no finished stream kept alive by its
serving task (which accepts the streams: no acceptor task of its own)."""

from __future__ import annotations

import gc
import weakref

import trio
import trio.testing

from p2pstack.host.netstream import NetStream
from tests.helpers.nodes import node_pair


async def test_a_finished_inbound_stream_is_not_kept_alive() -> None:
    handled: list[weakref.ref[object]] = []
    done = trio.Event()

    async def handler(stream: NetStream) -> None:
        handled.append(weakref.ref(stream.muxed))
        await stream.receive_until_eof(16)
        done.set()

    with trio.fail_after(10):
        async with node_pair() as (a, b):
            a.set_stream_handler("/hold/1.0.0", handler)
            conn = b.connection_to(a.peer_id)
            assert conn is not None
            stream = await conn.new_stream("/hold/1.0.0")
            await stream.send_eof()
            await done.wait()
            await stream.aclose()
            await trio.testing.wait_all_tasks_blocked()
            gc.collect()
            assert handled[0]() is None
            assert conn.session.num_streams == 0


def all_tasks() -> int:
    def walk(task: trio.lowlevel.Task) -> int:
        return 1 + sum(walk(t) for n in task.child_nurseries for t in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return walk(root)


async def test_an_idle_connection_runs_two_tasks_per_side_and_a_reader() -> None:
    """The serving task (streams, idle policy) and the Yamux session's task on each side,
    plus a reader task because memory streams' reads are not cancel-safe."""
    with trio.fail_after(10):
        async with node_pair(connect=False) as (a, b):
            await trio.testing.wait_all_tasks_blocked()
            before = all_tasks()
            conn = await b.dial(a.addrs[0])
            await (await conn.new_stream("/ipfs/ping/1.0.0")).aclose()
            await trio.testing.wait_all_tasks_blocked()
            assert all_tasks() - before == 2 * 3
