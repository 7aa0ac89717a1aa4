"""Fault boundaries: where an exception from below ends a stream, a connection or a task.

The node is a tree of boundaries (node > listener > connection > stream handler, and node >
service > task). Each task that touches the network runs inside one: an exception that comes
up through it ends only the smallest enclosing scope (its ``on_fault`` action closes the
stream or connection), and is turned into a log line, a counter in :class:`Faults` and a
:class:`FaultContained` event. It never reaches the node's nursery.

Exceptions a remote peer can legitimately cause (:data:`NETWORK_ERRORS`) are logged at debug
level; anything else is a bug somewhere below the boundary and is logged with its traceback.
Cancellation, ``KeyboardInterrupt`` and ``SystemExit`` always pass through. The one
exception to containment is the user's own stream handlers when
``NodeConfig.handler_errors == "raise"`` (see :meth:`Faults.contain`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.errors import StackError
from p2pstack.host.events import Event

if TYPE_CHECKING:
    from p2pstack.host.events import EventBus
    from p2pstack.identity import PeerId

logger: Final = logging.getLogger("p2pstack.faults")

NETWORK_ERRORS: Final = (
    StackError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
    OSError,
)
"""What a peer can make a connection or stream task fail with; anything else is a bug."""


_QUIET_AFTER: Final = 100
"""After this many faults of one kind, only every 100th is logged (all are counted)."""


def describe(exc: BaseException) -> str:
    """``Type: message (caused by Type: message)`` for logs."""
    cause = exc.__cause__
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} (caused by {type(cause).__name__}: {cause})" if cause else text


@dataclass(frozen=True, slots=True)
class FaultContained(Event):
    """A boundary stopped an exception: ``boundary`` names where (``"accept"``,
    ``"inbound-connection"``, ``"connection"``, ``"stream"``, ``"handler"``, ``"task"``...),
    ``peer_id`` the peer involved when known, ``expected`` whether it is an error a remote
    peer may cause (False: a bug below the boundary). ``error`` has no traceback left (the
    log line has it): frames kept alive by a queued event would pin buffers."""

    boundary: str
    peer_id: PeerId | None
    error: BaseException
    expected: bool


class HandlerFailed(Exception):
    """A user's stream handler raised ``__cause__`` and ``NodeConfig.handler_errors`` is
    ``"raise"``: no boundary contains it, so it ends the node (``open_node`` raises it)."""

    def __init__(self, protocol: str) -> None:
        super().__init__(f"the handler of {protocol} raised (handler_errors='raise')")
        self.protocol = protocol


_PASSING: Final = (trio.Cancelled, KeyboardInterrupt, SystemExit, GeneratorExit, HandlerFailed)


def _split(exc: BaseException) -> tuple[BaseException | None, BaseException | None]:
    """Split ``exc`` into (what must pass through, what the boundary contains)."""
    if isinstance(exc, BaseExceptionGroup):
        passing, rest = exc.split(_PASSING)
        return passing, rest
    if isinstance(exc, _PASSING) or not isinstance(exc, Exception):
        return exc, None
    return None, exc


def forget_tracebacks(exc: BaseException) -> None:
    """Drop the tracebacks of ``exc``, its causes, contexts and group members (after it was
    logged): a contained exception must not keep frames, and the buffers they reference,
    alive."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        item.__traceback__ = None
        todo.extend(e for e in (item.__cause__, item.__context__) if e is not None)
        if isinstance(item, BaseExceptionGroup):
            todo.extend(item.exceptions)


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (possibly nested) exception groups, or ``[exc]``."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


class StartedFlag:
    """A ``task_status`` that forwards ``started()`` and remembers it was called, so a
    boundary can let failures before start propagate and contain those after."""

    __slots__ = ("_status", "started_called")

    def __init__(self, status: trio.TaskStatus[None]) -> None:
        self._status = status
        self.started_called = False

    def started(self, value: None = None) -> None:
        self.started_called = True
        self._status.started()


class Faults:
    """The node's boundaries: counts what they contained and publishes events.

    ``counts`` maps ``(boundary, exception type name)`` to how often it happened.
    """

    def __init__(self, events: EventBus, *, reraise_handler_errors: bool = False) -> None:
        self._events = events
        self.counts: Counter[tuple[str, str]] = Counter()
        self.reraise_handler_errors = reraise_handler_errors

    @property
    def total(self) -> int:
        """Every fault contained so far."""
        return sum(self.counts.values())

    def record(self, boundary: str, exc: BaseException, peer: PeerId | None = None) -> None:
        """Log, count (once per exception inside a group) and publish one contained fault."""
        leaves = _leaves(exc)
        expected = all(isinstance(leaf, NETWORK_ERRORS) for leaf in leaves)
        seen = 0
        for leaf in leaves:
            key = (boundary, type(leaf).__name__)
            self.counts[key] += 1
            seen = max(seen, self.counts[key])
        who = f" (peer {peer.short()})" if peer is not None else ""
        if expected:
            logger.debug("%s ended%s: %s", boundary, who, describe(exc))
        elif seen == 1:  # the traceback once per boundary and type: a flood cannot fill logs
            logger.error("%s failed%s; contained", boundary, who, exc_info=exc)
        elif seen <= _QUIET_AFTER or seen % _QUIET_AFTER == 0:
            logger.error("%s failed%s (%d times); contained: %s", boundary, who, seen,
                         describe(exc))  # fmt: skip
        self._events.publish(FaultContained(boundary, peer, exc, expected))

    @contextmanager
    def contain(
        self,
        boundary: str,
        peer: PeerId | None = None,
        *,
        on_fault: Callable[[BaseException], None] | None = None,
        user_code: str | None = None,
    ) -> Iterator[None]:
        """Run the ``with`` body as boundary ``boundary``.

        An exception (other than cancellation, KeyboardInterrupt, SystemExit and
        :class:`HandlerFailed`) is recorded, ``on_fault(exc)`` is called (synchronously:
        abort what the body owned), and the exception is swallowed. ``user_code`` names the
        protocol when the body is a user's stream handler: with ``reraise_handler_errors``
        set, an exception that is not one of :data:`NETWORK_ERRORS` then leaves as
        :class:`HandlerFailed` (the user asked their own bugs to propagate).
        """
        try:
            yield
        except BaseException as exc:
            passing, contained = _split(exc)
            if contained is not None:
                self.record(boundary, contained, peer)
                if on_fault is not None:
                    on_fault(contained)
                if (
                    user_code is not None
                    and self.reraise_handler_errors
                    and not isinstance(contained, NETWORK_ERRORS)
                ):
                    raise HandlerFailed(user_code) from contained
                forget_tracebacks(contained)
            if passing is not None:
                raise passing from None

    async def run(
        self,
        boundary: str,
        fn: Callable[..., Awaitable[object]],
        *args: object,
        peer: PeerId | None = None,
        on_fault: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Await ``fn(*args)`` inside :meth:`contain`."""
        with self.contain(boundary, peer, on_fault=on_fault):
            await fn(*args)
