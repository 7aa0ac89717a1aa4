"""The node's listeners and the accept boundary: :class:`Listeners`.

:meth:`Listeners.listen` binds a listener with the first transport that can and runs its
accept loop in the node's nursery; every accepted raw connection is handed to the
``admit`` callback (:meth:`~p2pstack.host.accepting.Acceptor.admit`), and a refused one is
closed here. The node's :meth:`~p2pstack.host.node.Node.listen`,
:meth:`~p2pstack.host.node.Node.unlisten` and
:attr:`~p2pstack.host.node.Node.listen_addrs` call these.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Final

import trio

from p2pstack.abc.transport import RawConnection, Transport, TransportListener
from p2pstack.errors import MultiaddrNotSupported
from p2pstack.host.boundary import Faults, forget_tracebacks
from p2pstack.host.events import (
    EventBus,
    ListenAddrAdded,
    ListenAddrRemoved,
    ListenerClosed,
    ListenerError,
)
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.netaddr import expand_wildcard

logger: Final = logging.getLogger("p2pstack.node")

ACCEPT_BACKOFF_MAX: Final = 1.0
"""Longest pause after consecutive failed accepts (fd exhaustion would otherwise spin)."""


class Listeners:
    """The listeners a node runs, each with its accept loop (owned by the node).

    ``admit(raw)`` decides on each accepted connection and starts its upgrade; it returns
    False when it refused it (the connection is then closed here). Accept errors are
    contained (``faults``, boundary ``"accept"``) and published on ``events``.
    """

    def __init__(
        self,
        *,
        peer_id: PeerId,
        transports: Sequence[Transport],
        events: EventBus,
        faults: Faults,
        nursery: trio.Nursery,
        admit: Callable[[RawConnection], bool],
    ) -> None:
        self._peer_id = peer_id
        self._transports = transports
        self._events = events
        self._faults = faults
        self._nursery = nursery
        self._admit = admit
        self._listeners: list[TransportListener] = []
        self._listened_as: dict[int, tuple[Multiaddr, ...]] = {}

    async def listen(self, addr: Multiaddr) -> list[Multiaddr]:
        """Listen on ``addr`` and return the bound addresses (port 0 resolved).

        Raises:
            MultiaddrNotSupported: no transport can listen on ``addr``.
            TransportError: binding failed.
        """
        transport = next((t for t in self._transports if t.can_listen(addr)), None)
        if transport is None:
            raise MultiaddrNotSupported(f"no transport can listen on {addr}")
        listener = await transport.listen(addr)
        self._listeners.append(listener)
        self._listened_as[id(listener)] = (addr.without_peer_id(),)
        self._nursery.start_soon(self._accept_loop, listener)
        for bound in listener.listen_addrs:
            logger.info("listening on %s/p2p/%s", bound, self._peer_id)
            self._events.publish(ListenAddrAdded(bound))
        return listener.listen_addrs

    @property
    def addrs(self) -> list[Multiaddr]:
        """The bound addresses, wildcards expanded to the host's addresses, without /p2p."""
        out: list[Multiaddr] = []
        for listener in self._listeners:
            for addr in listener.listen_addrs:
                out.extend(a for a in expand_wildcard(addr) if a not in out)
        return out

    async def unlisten(self, addr: Multiaddr) -> bool:
        """Close the listener bound to ``addr`` (without /p2p; as :meth:`listen` returned it
        or was given it); return whether one was found."""
        for listener in self._listeners:
            if addr in listener.listen_addrs or addr in self._listened_as.get(id(listener), ()):
                self._listeners.remove(listener)
                await self._close(listener, None)
                return True
        return False

    async def close_all(self) -> None:
        """Close every listener (shielded from cancellation); the accept loops end."""
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            await self._close(listener, None)

    async def _accept_loop(self, listener: TransportListener) -> None:
        """The accept boundary: survives every error a listener or a new socket can raise.

        An accept error publishes :class:`~p2pstack.host.events.ListenerError`; a listener
        ending by itself (not closed by the node) :class:`~p2pstack.host.events.ListenerClosed`.
        """
        failures = 0
        while True:
            try:
                raw = await listener.accept()
            except (trio.ClosedResourceError, trio.BrokenResourceError) as exc:
                if listener in self._listeners:  # not closed by unlisten() or close_all()
                    forget_tracebacks(exc)
                    self._listeners.remove(listener)
                    await self._close(listener, exc)
                return
            except Exception as exc:
                self._faults.record("accept", exc)
                forget_tracebacks(exc)
                self._events.publish(ListenerError(tuple(listener.listen_addrs), exc))
                failures += 1
                # A persistent error (fd exhaustion) would spin: back off, 10 ms doubling.
                await trio.sleep(min(0.01 * 2 ** min(failures, 7), ACCEPT_BACKOFF_MAX))
                continue
            failures = 0
            admitted = False
            with self._faults.contain("accept"):
                admitted = self._admit(raw)
            if not admitted:
                await trio.aclose_forcefully(raw.stream)

    async def _close(self, listener: TransportListener, cause: BaseException | None) -> None:
        """Close a listener already out of ``_listeners`` and publish that it went."""
        addrs = tuple(listener.listen_addrs)
        self._listened_as.pop(id(listener), None)
        with trio.CancelScope(shield=True):
            await listener.aclose()
        for addr in listener.listen_addrs:  # a relay listener published its own removals
            self._events.publish(ListenAddrRemoved(addr))
        self._events.publish(ListenerClosed(addrs, cause))
