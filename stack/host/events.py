"""Node events and a small publish/subscribe bus.

Subscribers get a bounded trio receive channel. Publishing never blocks the node: when a
subscriber's buffer is full the event is dropped for that subscriber and counted in
:attr:`Subscription.dropped` (a slow consumer must not stall networking).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.errors import ConnectionDenied, LimitExceeded

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection
    from p2pstack.identity import PeerId
    from p2pstack.multiaddr import Multiaddr
    from p2pstack.role import Role

logger: Final = logging.getLogger("p2pstack.events")


class Event:
    """Base class of every node event."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ConnectionOpened(Event):
    """A connection finished its upgrade and is ready for streams."""

    peer_id: PeerId
    connection: Connection


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """A connection ended; ``cause`` is why (None for a clean local close)."""

    peer_id: PeerId
    connection: Connection
    cause: BaseException | None


@dataclass(frozen=True, slots=True)
class StreamOpened(Event):
    """A stream was negotiated; ``role`` is ours on it (``Role.INITIATOR``: we opened it)."""

    peer_id: PeerId
    protocol: str
    role: Role


@dataclass(frozen=True, slots=True)
class ListenAddrAdded(Event):
    """The node started listening on ``addr``."""

    addr: Multiaddr


@dataclass(frozen=True, slots=True)
class ListenAddrRemoved(Event):
    """The node stopped listening on ``addr``."""

    addr: Multiaddr


@dataclass(frozen=True, slots=True)
class AnnouncedAddrsChanged(Event):
    """The extra addresses the node announces (e.g. a NAT mapping) changed."""

    addrs: tuple[Multiaddr, ...]


@dataclass(frozen=True, slots=True)
class PeerIdentified(Event):
    """identify (or identify push) told us about a peer."""

    peer_id: PeerId
    protocols: tuple[str, ...]
    listen_addrs: tuple[Multiaddr, ...]
    agent_version: str


@dataclass(frozen=True, slots=True)
class ConnectionRefused(Event):
    """This node refused a connection (published on the refusing side).

    ``reason`` is ``"gater"`` (a gater hook refused; ``stage`` names it: ``"dial"``,
    ``"accept"``, ``"secured"``, ``"upgraded"``) or ``"limit"`` (a connection limit or
    fair admission refused; ``stage`` is the limit's name, e.g. ``"pending.per_ip"``).
    ``remote_addr`` and ``peer_id`` are None when unknown at that stage; ``role`` is ours
    (``Role.RESPONDER`` on an inbound connection). ``message`` is the refusal's text (the
    event carries no exception: its traceback would keep the connection's frames alive while
    the event waits in a subscriber's queue).
    """

    remote_addr: Multiaddr | None
    peer_id: PeerId | None
    reason: str
    stage: str
    role: Role
    message: str


def refused(
    error: ConnectionDenied | LimitExceeded,
    *,
    remote_addr: Multiaddr | None,
    peer_id: PeerId | None,
    role: Role,
) -> ConnectionRefused:
    """The :class:`ConnectionRefused` event for ``error`` (a gater's or a limit's refusal)."""
    if isinstance(error, LimitExceeded):
        return ConnectionRefused(remote_addr, peer_id, "limit", error.limit, role, str(error))
    return ConnectionRefused(remote_addr, peer_id, "gater", error.stage, role, str(error))


@dataclass(frozen=True, slots=True)
class DialFailed(Event):
    """A dial failed: ``attempts`` lists every address tried with why it failed
    (``"ExceptionType: message"``; empty when no address was known); ``message`` is the
    text of the :class:`~p2pstack.errors.DialError` raised (whose ``attempts`` hold the
    exceptions themselves)."""

    peer_id: PeerId | None
    attempts: tuple[tuple[str, str], ...]
    message: str


@dataclass(frozen=True, slots=True)
class InboundUpgradeFailed(Event):
    """An accepted connection from ``remote_addr`` failed its upgrade (handshake,
    negotiation, timeout, eviction, or the remote closing it) before it became a connection;
    refusals by this node's gater are :class:`ConnectionRefused` instead."""

    remote_addr: Multiaddr
    error: BaseException


@dataclass(frozen=True, slots=True)
class ListenerError(Event):
    """A listener on ``addrs`` failed to accept (it keeps listening, backing off)."""

    addrs: tuple[Multiaddr, ...]
    error: BaseException


@dataclass(frozen=True, slots=True)
class ListenerClosed(Event):
    """A listener on ``addrs`` stopped: ``cause`` is None when the node closed it
    (:meth:`~p2pstack.host.node.Node.unlisten` or shutdown), else the error that ended it."""

    addrs: tuple[Multiaddr, ...]
    cause: BaseException | None


@dataclass(eq=False)
class Subscription:
    """One subscriber's channel and its drop counter."""

    send: trio.MemorySendChannel[Event]
    receive: trio.MemoryReceiveChannel[Event]
    dropped: int = 0


@dataclass(eq=False)
class EventBus:
    """Fan-out of :class:`Event` objects to subscribers."""

    _subscriptions: list[Subscription] = field(default_factory=list)

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to every subscriber without blocking."""
        for sub in self._subscriptions:
            try:
                sub.send.send_nowait(event)
            except trio.WouldBlock:
                sub.dropped += 1
                logger.debug("event subscriber full, dropped %s", type(event).__name__)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    @contextmanager
    def subscribe(self, buffer: int = 256) -> Iterator[trio.MemoryReceiveChannel[Event]]:
        """Subscribe for the duration of the ``with`` block."""
        send, receive = trio.open_memory_channel[Event](buffer)
        sub = Subscription(send, receive)
        self._subscriptions.append(sub)
        try:
            yield receive
        finally:
            self._subscriptions.remove(sub)
            send.close()
            receive.close()
