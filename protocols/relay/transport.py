"""The relay as a transport: dial and listen on ``/p2p-circuit`` addresses.

* Dial ``<relay addr>/p2p/<relay>/p2p-circuit/p2p/<target>`` (or ``/p2p/<relay>/p2p-circuit/
  p2p/<target>`` when the peer store knows the relay): connect to the relay, ``CONNECT`` to the
  target, and hand the circuit to the node's upgrader (we are the Noise initiator).
* Listen on ``<relay addr>/p2p/<relay>/p2p-circuit``: reserve on the relay, advertise
  ``<each relay addr>/p2p-circuit``, accept circuits through the stop protocol, renew before
  the reservation expires and reserve again (with backoff) when the relay connection is lost,
  e.g. after the relay restarted.

Circuits under a relay limit become *limited* connections (``Connection.limited``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.abc.transport import RawConnection
from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError, StackError, TransportError
from p2pstack.host.events import ListenAddrAdded, ListenAddrRemoved
from p2pstack.host.gater import refusal_of
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.relay.client import ReservationInfo, connect, reserve
from p2pstack.protocols.relay.hop import is_relayed, keep_alive
from p2pstack.protocols.relay.messages import STOP_PROTOCOL, Limit, Peer
from p2pstack.protocols.relay.status import Status
from p2pstack.protocols.relay.stop import accept_stop

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection
    from p2pstack.host.context import NodeContext
    from p2pstack.host.netstream import NetStream

logger: Final = logging.getLogger("p2pstack.relay")

_ERRORS: Final = (StackError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError)


@dataclass(frozen=True, kw_only=True, slots=True)
class RelayClientConfig:
    """Timeouts and renewal policy of the relay client (seconds)."""

    hop_timeout: float = 30.0
    """A reserve or connect round trip with the relay."""
    stop_timeout: float = 10.0
    """How long the relay has to send its stop request (go: 10 s)."""
    renew_fraction: float = 0.5
    """Renew once this fraction of the remaining reservation time has passed."""
    min_renew_interval: float = 5.0
    retry_initial: float = 1.0
    """First delay before reserving again after a failure; doubles up to ``retry_max``."""
    retry_max: float = 60.0
    verify_vouchers: bool = True
    accept_backlog: int = 64

    def __post_init__(self) -> None:
        if not 0 < self.renew_fraction < 1:
            raise InvalidConfigError("renew_fraction must be between 0 and 1")
        for name in ("hop_timeout", "stop_timeout", "min_renew_interval", "retry_initial"):
            if getattr(self, name) <= 0:
                raise InvalidConfigError(f"{name} must be positive")
        if self.retry_max < self.retry_initial:
            raise InvalidConfigError("retry_max must be at least retry_initial")
        if self.accept_backlog < 1:
            raise InvalidConfigError("accept_backlog must be at least 1")


def split_circuit_addr(addr: Multiaddr) -> tuple[Multiaddr, PeerId, PeerId | None]:
    """``<relay part>/p2p-circuit[/p2p/<target>]`` -> (relay part, relay id, target id).

    Raises:
        TransportError: no ``/p2p-circuit``, or no relay peer id before it.
    """
    if not addr.has_protocol("p2p-circuit"):
        raise TransportError(f"not a relay address: {addr}")
    relay_part = addr.decapsulate("p2p-circuit")
    relay = relay_part.peer_id()
    if relay is None:
        raise TransportError(f"{addr} does not name the relay (/p2p/<relay> before /p2p-circuit)")
    return relay_part, relay, addr.peer_id()


def _relay_target(relay_part: Multiaddr, relay: PeerId) -> Multiaddr | PeerId:
    # "/p2p/<relay>" alone: dial the relay through the peer store.
    return relay_part if len(relay_part.components()) > 1 else relay


class RelayListener:
    """Listening through one relay (see the module docstring)."""

    def __init__(self, transport: CircuitRelayTransport, addr: Multiaddr) -> None:
        self.transport = transport
        self.addr = addr
        self.relay_part, self.relay, _ = split_circuit_addr(addr)
        self.reservation: ReservationInfo | None = None
        self.connection: Connection | None = None
        self.last_error: BaseException | None = None
        self.reserved = trio.Event()
        """Set whenever a reservation is held (a new Event after it is lost)."""
        self._send, self._receive = trio.open_memory_channel[RawConnection](
            transport.config.accept_backlog
        )
        self._closed = False
        self._advertised: list[Multiaddr] = []

    @property
    def node(self) -> NodeContext:
        return self.transport.node

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        """``<relay addr>/p2p-circuit`` for each relay address while a reservation is held."""
        if self._closed or self.reservation is None:
            return []
        addrs = self.reservation.addrs or (self.relay_part.with_peer_id(self.relay),)
        out: list[Multiaddr] = []
        for a in addrs:
            if len(a.components()) > 1:  # an address besides /p2p/<relay>
                circuit = a.encapsulate("/p2p-circuit")
                if circuit not in out:
                    out.append(circuit)
        return out or [self.addr]

    @property
    def is_closed(self) -> bool:
        return self._closed

    def _publish(self) -> None:
        now = self.listen_addrs
        for addr in self._advertised:
            if addr not in now:
                self.node.events.publish(ListenAddrRemoved(addr))
        for addr in now:
            if addr not in self._advertised:
                self.node.events.publish(ListenAddrAdded(addr))
        self._advertised = now

    def _set(self, conn: Connection | None, info: ReservationInfo | None) -> None:
        if self.connection is not None and self.connection is not conn:
            keep_alive(self.connection, False)
        self.connection, self.reservation = conn, info
        if info is not None:
            self.reserved.set()
        elif self.reserved.is_set():
            self.reserved = trio.Event()
        self._publish()

    async def reserve_now(self) -> ReservationInfo:
        """Connect to the relay if needed and reserve (or renew). Raises on failure."""
        cfg = self.transport.config
        conn = self.connection
        if conn is None or conn.is_closed:
            conn = await self.node.dial(_relay_target(self.relay_part, self.relay))
            if is_relayed(conn):
                raise TransportError(f"the connection to relay {self.relay} is itself relayed")
        info = await reserve(
            conn,
            time_limit=cfg.hop_timeout,
            verify=cfg.verify_vouchers,
            wall_clock=self.transport.wall_clock,
        )
        keep_alive(conn, True)
        renewed = self.reservation is not None and self.connection is conn
        self._set(conn, info)
        logger.info(
            "%s reservation on relay %s until %d (limit %s)",
            "renewed" if renewed else "new",
            self.relay,
            info.expire,
            info.limit,
        )
        return info

    async def keep(self) -> None:
        """Renew before expiry; reserve again after the relay connection is lost."""
        cfg = self.transport.config
        delay = cfg.retry_initial
        while not self._closed:
            conn, info = self.connection, self.reservation
            if conn is None or conn.is_closed or info is None:
                if info is not None:
                    logger.info("lost the relay connection to %s; reserving again", self.relay)
                    self._set(None, None)
                try:
                    await self.reserve_now()
                    delay = cfg.retry_initial
                    continue
                except _ERRORS as exc:
                    self.last_error = exc
                    logger.info(
                        "reserving on %s failed (%s); retrying in %.0f s", self.relay, exc, delay
                    )
                await trio.sleep(delay)
                delay = min(delay * 2, cfg.retry_max)
                continue
            remaining = info.expire - self.transport.wall_clock()
            wait = max(cfg.min_renew_interval, remaining * cfg.renew_fraction)
            with trio.move_on_after(wait):
                await conn.wait_closed()
                continue
            try:
                await self.reserve_now()
                delay = cfg.retry_initial
            except _ERRORS as exc:
                self.last_error = exc
                logger.info("renewing on %s failed (%s)", self.relay, exc)
                if self.transport.wall_clock() >= info.expire:
                    self._set(conn, None)
                await trio.sleep(delay)
                delay = min(delay * 2, cfg.retry_max)

    def decide(self, peer: Peer, limit: Limit | None) -> Status:
        return Status.CONNECTION_FAILED if self._closed else Status.OK

    def deliver(self, raw: RawConnection) -> bool:
        try:
            self._send.send_nowait(raw)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    async def accept(self) -> RawConnection:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise trio.ClosedResourceError("relay listener closed") from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.transport.forget_listener(self)
        if self.connection is not None:
            keep_alive(self.connection, False)
        self._publish()
        self._send.close()
        self._receive.close()
        await trio.lowlevel.checkpoint()


class CircuitRelayTransport:
    """Dials and listens on ``/p2p-circuit`` addresses (see the module docstring)."""

    name = "p2p-circuit"

    def __init__(
        self, config: RelayClientConfig, *, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.wall_clock = wall_clock
        self._node: NodeContext | None = None
        self._listeners: list[RelayListener] = []
        self._stop_registered = False

    @property
    def node(self) -> NodeContext:
        if self._node is None:
            raise StackError("the relay transport is not attached to a node")
        return self._node

    @property
    def listeners(self) -> list[RelayListener]:
        """The open relay listeners."""
        return list(self._listeners)

    def attach(self, context: NodeContext) -> None:
        """Dial relays and serve the stop protocol through ``context`` (called by the node)."""
        self._node = context

    def can_dial(self, addr: Multiaddr) -> bool:
        return addr.has_protocol("p2p-circuit") and addr.peer_id() is not None

    def can_listen(self, addr: Multiaddr) -> bool:
        comps = addr.components()
        return bool(comps) and comps[-1].name == "p2p-circuit" and len(comps) > 1

    async def dial(self, addr: Multiaddr) -> RawConnection:
        relay_part, relay, target = split_circuit_addr(addr)
        if target is None:
            raise TransportError(f"{addr} does not name the target (/p2p/<id> after /p2p-circuit)")
        if relay == target:
            raise TransportError(f"{addr} relays to the relay itself")
        node = self.node
        conn = await node.dial(_relay_target(relay_part, relay))
        if is_relayed(conn):
            raise TransportError(f"the connection to relay {relay} is itself relayed")
        circuit = await connect(conn, target, time_limit=self.config.hop_timeout)
        return RawConnection(circuit, None, addr, limited=circuit.limited)

    async def listen(self, addr: Multiaddr) -> RelayListener:
        node = self.node
        if not self._stop_registered:
            node.set_stream_handler(STOP_PROTOCOL, self._handle_stop)
            self._stop_registered = True
        listener = RelayListener(self, addr)
        try:
            await listener.reserve_now()
        except _ERRORS as exc:
            raise TransportError(f"could not reserve on relay {listener.relay}: {exc}") from exc
        self._listeners.append(listener)
        node.spawn(listener.keep)
        return listener

    def forget_listener(self, listener: RelayListener) -> None:
        """Drop a closing ``listener`` from :attr:`listeners` (it calls this itself)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def listener_for(self, relay: PeerId) -> RelayListener | None:
        """The open listener through ``relay``, if any."""
        for listener in self._listeners:
            if listener.relay == relay and not listener.is_closed:
                return listener
        return None

    async def _handle_stop(self, stream: NetStream) -> None:
        node = self.node
        relay = stream.remote_peer
        listener = self.listener_for(relay)

        def decide(peer: Peer, limit: Limit | None) -> Status:
            if listener is None:
                return Status.CONNECTION_FAILED
            denied = refusal_of(
                lambda: node.gater.allow_relayed_accept(relay, peer.id),
                stage="relayed-accept",
                refusal=f"the circuit from {peer.id} via {relay}",
                on_bug=lambda exc: node.faults.record("gater", exc, peer.id),
            )
            if denied is not None:
                logger.info("%s", denied)
                return Status.PERMISSION_DENIED
            return listener.decide(peer, limit)

        circuit = await accept_stop(stream, decide, time_limit=self.config.stop_timeout)
        if circuit is None or listener is None:
            return
        assert circuit.remote_peer is not None
        remote = listener.relay_part.with_peer_id(relay).encapsulate("/p2p-circuit")
        remote = remote.encapsulate(f"/p2p/{circuit.remote_peer}")
        local = listener.listen_addrs[0] if listener.listen_addrs else None
        raw = RawConnection(circuit, local, remote, limited=circuit.limited)
        if not listener.deliver(raw):
            logger.info(
                "relay listener backlog full: dropping circuit from %s", circuit.remote_peer
            )
            return
        logger.info("circuit from %s via %s (limit %s)", circuit.remote_peer, relay, circuit.limit)
        # The node closes the stop stream when this handler returns: hold it for the circuit.
        await circuit.wait_closed()


def circuit_relay(
    config: RelayClientConfig | None = None, *, wall_clock: Callable[[], float] = time.time
) -> CircuitRelayTransport:
    """The relay client transport (add it to ``open_node(transports=[tcp(), ...])``)."""
    return CircuitRelayTransport(
        config_arg(config, RelayClientConfig, "circuit_relay(config)"), wall_clock=wall_clock
    )
