"""Running zeroconf (its own asyncio loop in its own thread) from trio, without leaking threads.

* :func:`run_in_thread` runs a blocking call (creating or closing a ``Zeroconf``) in a
  dedicated thread that is always joined before it returns, even when the caller is
  cancelled (the wait is shielded, so keep such calls short and bounded).
* :func:`run_on_loop` runs a coroutine on zeroconf's loop and waits for it from trio;
  cancelling the trio side cancels the coroutine.
* zeroconf code posts back to trio with :meth:`Mailbox.post`, which never blocks the loop
  thread: at most ``size`` items are in flight, the rest are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

import outcome
import trio

T = TypeVar("T")


async def run_in_thread(fn: Callable[[], T], *, name: str) -> T:
    """Call ``fn()`` in a new thread and return its result; the thread is joined."""
    token = trio.lowlevel.current_trio_token()
    done = trio.Event()
    result: list[outcome.Outcome[T]] = []

    def target() -> None:
        result.append(outcome.capture(fn))
        with contextlib.suppress(trio.RunFinishedError):  # trio exited under us
            token.run_sync_soon(done.set)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    with trio.CancelScope(shield=True):
        await done.wait()
    thread.join()
    return result[0].unwrap()


async def run_on_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on ``loop`` (another thread's) and return its result.

    Raises:
        trio.ClosedResourceError: the loop is no longer running.
    """
    if loop.is_closed() or not loop.is_running():
        coro.close()
        raise trio.ClosedResourceError("the zeroconf loop is not running")
    try:
        future = asyncio.run_coroutine_threadsafe(coro, loop)
    except RuntimeError as exc:  # closed between the check and the call
        coro.close()
        raise trio.ClosedResourceError("the zeroconf loop is not running") from exc
    token = trio.lowlevel.current_trio_token()
    done = trio.Event()

    def wake(_: object) -> None:
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(done.set)

    future.add_done_callback(wake)
    try:
        await done.wait()
    finally:
        if not future.done():
            future.cancel()
    return future.result()


class Mailbox(Generic[T]):
    """Items from any thread into a bounded trio channel, never blocking the sender."""

    def __init__(self, size: int) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._send, self.receive = trio.open_memory_channel[T](size)
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._dropped = 0

    @property
    def dropped(self) -> int:
        """Items refused because ``size`` were already waiting or in flight."""
        with self._lock:
            return self._dropped

    def post(self, item: T) -> bool:
        """Hand ``item`` to trio (thread-safe, non-blocking); False when it was dropped."""
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self._dropped += 1
            return False
        try:
            self._token.run_sync_soon(self._deliver, item)
        except trio.RunFinishedError:
            self._slots.release()
            return False
        return True

    def _deliver(self, item: T) -> None:  # runs in the trio thread
        try:
            self._send.send_nowait(item)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            with self._lock:
                self._dropped += 1
        finally:
            self._slots.release()

    def close(self) -> None:
        """Stop accepting items (call from trio)."""
        self._send.close()


class LoopThread:
    """A plain asyncio event loop running in a thread we own and always join.

    zeroconf normally creates its loop with ``asyncio.new_event_loop()``, which goes through the
    process-wide event loop policy; libraries such as trio-asyncio replace that policy, and
    their loops cannot run in zeroconf's thread. Building ``Zeroconf`` *inside* this loop makes
    it adopt the running loop instead. The loop is a ``SelectorEventLoop`` built directly, so
    no policy is consulted.
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.SelectorEventLoop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the loop (so it sees it as the running loop) and return its result."""

        async def wrapper() -> T:
            return fn()

        return await run_on_loop(self.loop, wrapper())

    async def stop(self) -> None:
        """Stop the loop and join its thread (shielded: it always completes)."""
        with contextlib.suppress(RuntimeError):  # already closed
            self.loop.call_soon_threadsafe(self.loop.stop)
        await run_in_thread(self._thread.join, name=f"{self._thread.name}-join")
