"""Relay discovery ("auto relay"): find relays, reserve on some, replace the ones that go away.

Candidates are the configured static relays, then every peer the node knows whose identify
announced the hop protocol (connected peers first). Whether to reserve follows the node's
measured reachability (:attr:`~p2pstack.host.node.Node.reachability`, set by AutoNAT or the
user), never what an address looks like:

* ``PRIVATE``: reserve on ``relays`` candidates; the relayed addresses are then among the
  node's listen addresses, so identify (and identify push) publish them.
* ``PUBLIC``: reserve on none, and drop the reservations held (others dial us directly).
* ``UNKNOWN`` (nothing measured yet): keep what is held, reserve nothing new, unless
  ``reserve_when_unknown``.

``force=True`` reserves whatever the verdict (a node that knows it is behind a NAT). The service
reacts to :class:`~p2pstack.host.reachability.ReachabilityChanged`, identified peers and
connections (no polling); its only timers are the pending ``retry_after`` and
``replace_after`` deadlines. A relay whose reservation stays lost for ``replace_after``
seconds is dropped for another candidate, and tried again only after ``retry_after`` seconds.
Every reservation made or dropped is published as :class:`RelayReserved` or
:class:`RelayDropped` on the node's event bus.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError, StackError
from p2pstack.host.events import (
    ConnectionClosed,
    ConnectionOpened,
    Event,
    ListenAddrRemoved,
    PeerIdentified,
)
from p2pstack.host.reachability import Reachability, ReachabilityChanged
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.relay.messages import HOP_PROTOCOL
from p2pstack.protocols.relay.transport import CircuitRelayTransport, RelayListener

if TYPE_CHECKING:
    from p2pstack.host.context import NodeContext

logger: Final = logging.getLogger("p2pstack.relay")

_ERRORS: Final = (StackError, trio.BrokenResourceError, trio.ClosedResourceError, OSError)
_WAKE: Final = (
    ReachabilityChanged,
    PeerIdentified,
    ConnectionOpened,
    ConnectionClosed,
    ListenAddrRemoved,
)
"""The events after which the service looks again (others cannot change its decision)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AutoRelayConfig:
    """How many relays to use and when."""

    relays: int = 2
    """Reserve on this many relays."""
    force: bool = False
    """Reserve whatever the measured reachability (a node that knows it is behind a NAT)."""
    reserve_when_unknown: bool = False
    """Reserve while the reachability is ``UNKNOWN`` too (default: wait for a verdict)."""
    static_relays: tuple[Multiaddr, ...] = ()
    """Relays to try first (``<addr>/p2p/<relay id>``)."""
    retry_after: float = 60.0
    """A relay that failed is not tried again for this long."""
    replace_after: float = 30.0
    """A relay whose reservation stays lost this long is replaced."""

    def __post_init__(self) -> None:
        if self.relays < 1:
            raise InvalidConfigError("relays must be at least 1")
        if self.retry_after <= 0 or self.replace_after <= 0:
            raise InvalidConfigError("retry_after and replace_after must be positive")
        for addr in self.static_relays:
            if addr.peer_id() is None:
                raise InvalidConfigError(f"static relay {addr} needs /p2p/<relay id>")

    def wants_relays(self, reachability: Reachability) -> bool | None:
        """True: reserve; False: drop what is held; None: keep what is held, add nothing."""
        if self.force or reachability is Reachability.PRIVATE:
            return True
        if reachability is Reachability.PUBLIC:
            return False
        return True if self.reserve_when_unknown else None


@dataclass(frozen=True, slots=True)
class RelayReserved(Event):
    """Auto-relay now listens through ``relay``; ``addrs`` are the relayed addresses."""

    relay: PeerId
    addrs: tuple[Multiaddr, ...]


@dataclass(frozen=True, slots=True)
class RelayDropped(Event):
    """Auto-relay stopped listening through ``relay``: ``reason`` is ``"public"`` (the node
    is reachable directly), ``"lost"`` (the reservation stayed lost; replaced) or ``"closed"``
    (the listener ended)."""

    relay: PeerId
    reason: str


class RelayDiscovery:
    """The auto-relay service (see the module docstring)."""

    def __init__(self, config: AutoRelayConfig) -> None:
        self.config = config
        self.relays: dict[PeerId, RelayListener] = {}
        """Relays we listen through."""
        self._failed: dict[PeerId, float] = {}
        self._lost_since: dict[PeerId, float] = {}
        self._node: NodeContext | None = None
        self._transport: CircuitRelayTransport | None = None

    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        transport = next((t for t in node.transports if isinstance(t, CircuitRelayTransport)), None)
        if transport is None:
            raise StackError("relay discovery needs the circuit_relay() transport on the node")
        self._node, self._transport = node, transport
        with node.events.subscribe() as events:
            task_status.started()
            while True:
                await self.maintain()
                with trio.move_on_after(self._next_check()):
                    while not isinstance(await events.receive(), _WAKE):
                        pass

    def _next_check(self) -> float:
        """Seconds until a pending deadline (a lost reservation to replace, a failed relay to
        retry while relays are missing); infinite when nothing is pending."""
        now = trio.current_time()
        times = [since + self.config.replace_after - now for since in self._lost_since.values()]
        node = self._node
        wants = node is not None and self.config.wants_relays(node.reachability.overall)
        if wants and len(self.relays) < self.config.relays:
            times += [t - now for t in self._failed.values() if t > now]
        return max(0.1, min(times)) if times else math.inf

    def candidates(self) -> list[PeerId]:
        """Relay candidates in preference order (static, connected, known)."""
        node = self._node
        assert node is not None
        now = trio.current_time()
        out: list[PeerId] = []
        static = [a.peer_id() for a in self.config.static_relays]
        connected = {c.peer_id for c in node.connections}
        known = [p for p in node.peerstore.peers() if HOP_PROTOCOL in _protocols(node, p)]
        known.sort(key=lambda p: p not in connected)
        for peer in [*static, *known]:
            if peer is None or peer == node.peer_id or peer in out or peer in self.relays:
                continue
            if self._failed.get(peer, 0.0) > now:
                continue
            out.append(peer)
        return out

    def _addr_for(self, relay: PeerId) -> Multiaddr:
        for addr in self.config.static_relays:
            if addr.peer_id() == relay:
                return addr.encapsulate("/p2p-circuit")
        return Multiaddr(f"/p2p/{relay}/p2p-circuit")

    async def maintain(self) -> None:
        """Apply the policy once: drop relays that went away (or all of them when the node is
        public), then reserve on new ones until there are enough (when it wants relays)."""
        node, transport = self._node, self._transport
        assert node is not None
        assert transport is not None
        now = trio.current_time()
        wants = self.config.wants_relays(node.reachability.overall)
        if wants is False:
            for relay in list(self.relays):
                logger.info("reachable directly: dropping the reservation on relay %s", relay)
                await self._drop(relay, "public")
            self._lost_since.clear()
            return
        for relay, listener in list(self.relays.items()):
            if listener.is_closed:
                await self._drop(relay, "closed")
            elif listener.reservation is None:
                since = self._lost_since.setdefault(relay, now)
                if now - since >= self.config.replace_after:
                    logger.info("relay %s is gone; replacing it", relay)
                    await self._drop(relay, "lost")
                    self._failed[relay] = now + self.config.retry_after
            else:
                self._lost_since.pop(relay, None)
        if not wants:
            return
        for relay in self.candidates():
            if len(self.relays) >= self.config.relays:
                break
            try:
                await node.listen(self._addr_for(relay))
            except _ERRORS as exc:
                logger.info("relay candidate %s failed: %s", relay, exc)
                self._failed[relay] = trio.current_time() + self.config.retry_after
                continue
            found = transport.listener_for(relay)
            if found is not None:
                self.relays[relay] = found
                logger.info("listening through relay %s: %s", relay, found.listen_addrs)
                node.events.publish(RelayReserved(relay, tuple(found.listen_addrs)))

    async def _drop(self, relay: PeerId, reason: str) -> None:
        listener = self.relays.pop(relay)
        self._lost_since.pop(relay, None)
        await listener.aclose()  # the node's accept loop then forgets the listener
        assert self._node is not None
        self._node.events.publish(RelayDropped(relay, reason))


def _protocols(node: NodeContext, peer: PeerId) -> tuple[str, ...]:
    info = node.peerstore.info(peer)
    return info.protocols if info is not None else ()


def auto_relay(config: AutoRelayConfig | None = None) -> RelayDiscovery:
    """The relay discovery service factory."""
    return RelayDiscovery(config_arg(config, AutoRelayConfig, "auto_relay(config)"))
