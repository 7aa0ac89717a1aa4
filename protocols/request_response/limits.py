"""Limits of one request-response protocol and the queue between network and application.

The :class:`InboundQueue` holds requests that were read, decoded and allowed by the
firewall until the application takes them. When it is full, :class:`Backpressure`
decides: ``BLOCK`` makes the new request's stream wait (only that stream, never the
connection; the request timeout still applies), ``DROP_NEWEST`` refuses the new request,
``BUFFER_NEWEST`` accepts it and evicts the oldest waiting one. A refused or evicted
request is reset, so its requester gets ``ResponseOmitted`` at once.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import trio

from p2pstack.errors import InvalidConfigError

T = TypeVar("T")

DEFAULT_MAX_REQUEST_SIZE: Final = 1 << 20
DEFAULT_MAX_RESPONSE_SIZE: Final = 10 << 20


class Backpressure(enum.Enum):
    """What happens to a new inbound request when the application queue is full."""

    BLOCK = "block"
    DROP_NEWEST = "drop-newest"
    BUFFER_NEWEST = "buffer-newest"


@dataclass(frozen=True, kw_only=True)
class RequestResponseConfig:
    """Limits and timeouts of one protocol (sizes in bytes, times in seconds)."""

    max_request_size: int = DEFAULT_MAX_REQUEST_SIZE
    max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE
    request_timeout: float = 10.0
    """Outbound: the whole exchange. Inbound: reading the request, and the application's answer."""
    max_inbound_per_peer: int = 32
    """Inbound requests in progress per peer; more are reset before being read."""
    max_inbound_total: int = 256
    """Inbound requests in progress on this protocol; more are reset before being read."""
    queue_size: int = 16
    """Allowed requests waiting for the application."""
    backpressure: Backpressure = Backpressure.BLOCK
    handler_concurrency: int = 16
    """With a handler: how many handler calls run at once."""

    def __post_init__(self) -> None:
        for name in (
            "max_request_size",
            "max_response_size",
            "max_inbound_per_peer",
            "max_inbound_total",
            "queue_size",
            "handler_concurrency",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidConfigError(f"{name} must be a positive int, not {value!r}")
        if not self.request_timeout > 0:
            raise InvalidConfigError("request_timeout must be positive")


class QueueFull(Exception):
    """Internal: DROP_NEWEST refused an item."""


class InboundQueue(Generic[T]):
    """A bounded queue with a backpressure policy; ``get`` hands items to the application.

    ``put`` returns once the item is queued (and hands back the item it evicted under
    ``BUFFER_NEWEST``). Closing wakes every waiter with ``trio.ClosedResourceError``
    (producers) or ``trio.EndOfChannel`` (consumers).
    """

    def __init__(self, size: int, policy: Backpressure) -> None:
        self.size = size
        self.policy = policy
        self._items: deque[T] = deque()
        self._changed = trio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def put(self, item: T) -> T | None:
        """Queue ``item``; returns the evicted item under ``BUFFER_NEWEST``, else None.

        Raises:
            QueueFull: ``DROP_NEWEST`` and the queue is full.
            trio.ClosedResourceError: the queue was closed.
        """
        await trio.lowlevel.checkpoint()
        while True:
            if self._closed:
                raise trio.ClosedResourceError("the inbound queue is closed")
            if len(self._items) < self.size:
                self._items.append(item)
                self._notify()
                return None
            if self.policy is Backpressure.DROP_NEWEST:
                raise QueueFull
            if self.policy is Backpressure.BUFFER_NEWEST:
                oldest = self._items.popleft()
                self._items.append(item)
                self._notify()
                return oldest
            await self._changed.wait()

    async def get(self) -> T:
        """The oldest queued item, waiting for one. Raises trio.EndOfChannel once closed."""
        await trio.lowlevel.checkpoint()
        while not self._items:
            if self._closed:
                raise trio.EndOfChannel
            await self._changed.wait()
        item = self._items.popleft()
        self._notify()
        return item

    def remove(self, item: T) -> bool:
        """Take ``item`` out if still queued (its requester gave up); True if it was."""
        for index, queued in enumerate(self._items):
            if queued is item:
                del self._items[index]
                self._notify()
                return True
        return False

    def close(self) -> None:
        """Refuse new items and end consumers once drained."""
        self._closed = True
        self._notify()


class InboundLimiter:
    """Counts inbound requests in progress, per peer and in total."""

    def __init__(self, per_peer: int, total: int) -> None:
        self.per_peer = per_peer
        self.total = total
        self._active: dict[object, int] = {}
        self._total = 0

    def try_acquire(self, peer: object) -> str | None:
        """Count one more request; returns None, or which limit refused it."""
        if self._total >= self.total:
            return f"{self.total} inbound requests in progress on this protocol"
        if self._active.get(peer, 0) >= self.per_peer:
            return f"{self.per_peer} inbound requests in progress from this peer"
        self._active[peer] = self._active.get(peer, 0) + 1
        self._total += 1
        return None

    def release(self, peer: object) -> None:
        """Count one request fewer."""
        self._total -= 1
        left = self._active[peer] - 1
        if left:
            self._active[peer] = left
        else:
            del self._active[peer]
