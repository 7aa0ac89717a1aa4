"""Outbound dialling: address selection, shared attempts per peer, typed failures.

Addresses are dialled as they are: a name (``/dns*``, ``/dnsaddr``) is resolved by the
transport that dials it (:func:`p2pstack.transports.dns.dns` wraps the others).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.errors import (
    ConnectionDenied,
    DialError,
    InvalidConfigError,
    LimitExceeded,
    NegotiationFailed,
    NegotiationTimeout,
    StackError,
    TransportError,
    UnexpectedEOF,
)
from p2pstack.host.connection import Connection
from p2pstack.host.events import DialFailed, refused
from p2pstack.host.gater import consult
from p2pstack.host.limits import check
from p2pstack.host.peerstore import DEFAULT_TTL, PeerStore
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.node import Node

logger: Final = logging.getLogger("p2pstack.dialer")

_ATTEMPT_ERRORS: Final = (
    StackError,
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
)


_US: Final = Role.INITIATOR
"""Our role on every connection the dialer makes."""

_CLOSED_BY_REMOTE: Final = (UnexpectedEOF, trio.BrokenResourceError, trio.ClosedResourceError)
"""What an upgrade fails with when the remote closes the connection in the middle of it."""


def _closed_by_remote(exc: BaseException) -> bool:
    """Whether ``exc`` says the remote closed the connection (multistream reports an end of
    stream while it waits for the listener's answer as NegotiationFailed)."""
    if isinstance(exc, NegotiationFailed):
        return not isinstance(exc, NegotiationTimeout) and "closed" in str(exc)
    return True


class RemoteClosed(TransportError):
    """The remote closed the connection during the upgrade.

    The wire carries no refusal reason: a listener whose gater or limits refuse us after
    the security handshake simply closes the connection, so this is what a refusal looks
    like from the dialling side (it may also be a crash or a network failure).
    """


def certified_first(
    peerstore: PeerStore, peer: PeerId, *, prefer_quic: bool = False
) -> list[Multiaddr]:
    """``peer``'s addresses in the peer store's order, those of its signed peer record first;
    within each group QUIC (``/quic-v1``) last, or first with ``prefer_quic`` (go-libp2p's
    order; see ``NodeConfig.prefer_quic``)."""
    certified = set(peerstore.certified_addrs(peer))
    return sorted(
        peerstore.addrs(peer),
        key=lambda addr: (
            addr not in certified,
            addr.has_protocol("quic-v1") is not prefer_quic,
        ),
    )


def relay_address(relay: Multiaddr | PeerId) -> Multiaddr:
    """``relay`` as a dialing relay's address (``/.../p2p/<relay id>``, or ``/p2p/<id>``).

    Raises:
        InvalidConfigError: it names no relay peer or is itself relayed.
    """
    addr = Multiaddr(f"/p2p/{relay}") if isinstance(relay, PeerId) else relay
    if addr.has_protocol("p2p-circuit") or addr.peer_id() is None:
        raise InvalidConfigError(f"a dialing relay is /.../p2p/<relay id> (not relayed): {addr}")
    return addr


def _relay_of(circuit: Multiaddr) -> PeerId | None:
    """The relay's peer id in ``<relay>/p2p-circuit/p2p/<peer>``."""
    names = [c.name for c in circuit.components()]
    cut = len(names) - 1 - names[::-1].index("p2p-circuit")
    return Multiaddr.from_components(circuit.components()[:cut]).peer_id()


def _reset_on_close(stream: object, on: bool) -> None:
    """While ``on``, closing a hole-punch dial's TCP socket sends a RST (``SO_LINGER`` 0): a
    punched connection whose upgrade fails leaves no TIME_WAIT holding the 4-tuple (our
    listening port to the peer's) that the next round dials again. Duck typed (a stream with
    a stdlib TCP ``socket``): the host knows no transport."""
    sock = getattr(stream, "socket", None)
    if isinstance(sock, socket.socket) and sock.type == socket.SOCK_STREAM:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", int(on), 0))


@dataclass(eq=False)
class _PendingDial:
    done: trio.Event = field(default_factory=trio.Event)
    connection: Connection | None = None
    attempts: list[tuple[str, BaseException]] = field(default_factory=list)


class Dialer:
    """Dials for one node. Concurrent dials to one peer share a single attempt.

    Relay fallback: when every direct address of a known peer failed (or none is known),
    the dial is retried through ``/p2p-circuit`` addresses built from the peer's own relays
    (:meth:`add_relay` with ``peer``) and, when :attr:`relay_fallback` is on, the node's
    dialing relays. Each relayed attempt is listed in the DialError like a direct one. A
    dialing relay itself is never dialled through another relay.
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self._pending: dict[PeerId, _PendingDial] = {}
        self.pending = 0
        """Outbound dials in progress (connecting or upgrading)."""
        self.relay_fallback = False
        """Retry failed dials through the dialing relays (off by default)."""
        self._relays: list[Multiaddr] = []
        self._peer_relays: dict[PeerId, list[Multiaddr]] = {}
        self._punching: dict[Multiaddr, Role] = {}

    # ---- dialing relays ---------------------------------------------------------------------

    def add_relay(self, relay: Multiaddr | PeerId, peer: PeerId | None = None) -> Multiaddr:
        """Add a dialing relay (for ``peer`` only when given); return its address as stored.

        Raises:
            InvalidConfigError: ``relay`` names no relay peer (``/p2p/<id>`` missing) or is
                itself a relayed address.
        """
        addr = relay_address(relay)
        relays = self._relays if peer is None else self._peer_relays.setdefault(peer, [])
        if addr not in relays:
            relays.append(addr)
        return addr

    def remove_relay(self, relay: Multiaddr | PeerId, peer: PeerId | None = None) -> bool:
        """Remove a dialing relay (``peer``'s own when given); return whether it was there."""
        addr = relay_address(relay)
        relays = self._relays if peer is None else self._peer_relays.get(peer, [])
        if addr not in relays:
            return False
        relays.remove(addr)
        if peer is not None and not relays:
            del self._peer_relays[peer]
        return True

    @property
    def relays(self) -> tuple[Multiaddr, ...]:
        """The dialing relays for every peer, in the order they are tried."""
        return tuple(self._relays)

    @property
    def peer_relays(self) -> dict[PeerId, tuple[Multiaddr, ...]]:
        """The relays added for one peer each (tried before the general ones, always)."""
        return {peer: tuple(addrs) for peer, addrs in self._peer_relays.items()}

    def _relayed(self, peer: PeerId | None, direct: list[Multiaddr]) -> list[Multiaddr]:
        """The circuit addresses to fall back on for ``peer`` (none already in ``direct``)."""
        if peer is None:
            return []
        every = [*self._relays, *(r for rs in self._peer_relays.values() for r in rs)]
        if any(r.peer_id() == peer for r in every):
            return []  # a relay is dialled directly: no circuit within a circuit, no cycle
        relays = list(self._peer_relays.get(peer, []))
        if self.relay_fallback:
            relays += [r for r in self._relays if r not in relays]
        out = [r.encapsulate("/p2p-circuit").with_peer_id(peer) for r in relays]
        return [a for a in out if a.peer_id() == peer and _relay_of(a) != peer and a not in direct]

    async def dial(self, target: Multiaddr | PeerId) -> Connection:
        """See :meth:`Node.dial`."""
        node = self._node
        if isinstance(target, PeerId):
            peer: PeerId | None = target
            ordered = certified_first(node.peerstore, target, prefer_quic=node.config.prefer_quic)
            addrs = [a.with_peer_id(target) for a in ordered]
        else:
            peer = target.peer_id()
            addrs = [target]
        if peer is None:
            return await self._dial_addrs(None, addrs, _PendingDial())
        existing = node.connection_to(peer)
        if existing is not None:
            return existing
        pending = self._pending.get(peer)
        if pending is not None:
            await pending.done.wait()
            if pending.connection is not None and not pending.connection.is_closed:
                return pending.connection
            raise DialError(f"the shared dial to {peer} failed", pending.attempts)
        pending = self._pending[peer] = _PendingDial()
        try:
            return await self._dial_addrs(peer, addrs, pending)
        finally:
            pending.done.set()
            del self._pending[peer]

    async def _dial_addrs(
        self, peer: PeerId | None, addrs: list[Multiaddr], pending: _PendingDial
    ) -> Connection:
        node = self._node
        addrs = list(dict.fromkeys(addrs))
        relayed = self._relayed(peer, addrs)
        if not addrs and not relayed:
            raise self._failed(peer, DialError(f"no known addresses for {peer}"))
        what = f"dial to {peer or addrs[0]}"  # peer is None only with one address
        try:
            check(node.config.limits.max_pending_outbound, self.pending, "pending.outbound", what)
        except LimitExceeded as exc:
            first = (addrs or relayed)[0]
            node.events.publish(refused(exc, remote_addr=first, peer_id=peer, role=_US))
            raise
        self.pending += 1
        try:
            conn = await self._race(peer, addrs, pending.attempts) if addrs else None
            if conn is None and relayed:
                logger.debug("dialling %s through %d relays", peer, len(relayed))
                conn = await self._race(peer, relayed, pending.attempts)
        finally:
            self.pending -= 1
        if conn is None:
            message = f"could not connect to {peer or addrs[0]}"
            raise self._failed(peer, DialError(message, pending.attempts))
        await node.admit(conn)
        await node.start_connection(conn)
        pending.connection = conn
        return conn

    def punch_role(self, remote: Multiaddr) -> Role | None:
        """Our role for an inbound connection from ``remote`` while a hole punch to that
        address is under way (the peer's SYN reached our listener): None otherwise."""
        return self._punching.get(remote.without_peer_id())

    async def dial_punch(
        self, peer: PeerId, addrs: list[Multiaddr], *, role: Role, delay: float = 0.0
    ) -> Connection:
        """See :meth:`Node.dial_punch`: race ``addrs`` (no connection reused, no shared
        attempt), upgrading as ``role`` whoever connected first at the TCP level."""
        attempts: list[tuple[str, BaseException]] = []
        bare = list(dict.fromkeys(a.without_peer_id() for a in addrs))
        if not bare:
            raise DialError(f"no addresses to punch to {peer}")
        for addr in bare:
            self._punching[addr] = role
        self.pending += 1
        try:
            if delay > 0:
                await trio.sleep(delay)  # the protocol's timer (DCUtR: half the round trip)
            targets = [a.with_peer_id(peer) for a in bare]
            conn = await self._race(peer, targets, attempts, role=role, punch=True)
        finally:
            self.pending -= 1
            for addr in bare:
                self._punching.pop(addr, None)
        if conn is None:
            raise DialError(f"could not punch through to {peer}", attempts)
        await self._node.admit(conn)
        await self._node.start_connection(conn)
        return conn

    def _failed(self, peer: PeerId | None, error: DialError) -> DialError:
        """Publish :class:`~p2pstack.host.events.DialFailed` for ``error``; return it."""
        attempts = tuple((addr, f"{type(exc).__name__}: {exc}") for addr, exc in error.attempts)
        self._node.events.publish(DialFailed(peer, attempts, str(error)))
        return error

    async def _race(
        self,
        peer: PeerId | None,
        addrs: list[Multiaddr],
        attempts: list[tuple[str, BaseException]],
        *,
        role: Role = _US,
        punch: bool = False,
    ) -> Connection | None:
        """Dial ``addrs`` in order, each starting when the previous failed or after the
        stagger delay; the first upgraded connection wins and the other attempts stop.
        ``role`` is ours in the upgrade (a hole punch's simultaneous open sets it)."""
        node = self._node
        winner: list[Connection] = []
        failed = [trio.Event() for _ in addrs]

        async def attempt(index: int, addr: Multiaddr) -> None:
            try:
                conn = await self._dial_addr(addr, peer, role, punch=punch)
            except Exception as exc:  # the dial boundary: every failure is listed
                if not isinstance(exc, _ATTEMPT_ERRORS):
                    node.faults.record("dial", exc, peer)
                logger.debug("dial %s failed: %s", addr, exc)
                attempts.append((str(addr), exc))
                if peer is not None:
                    node.peerstore.mark_failure(peer, addr)
                failed[index].set()
                return
            if winner:  # lost the race by a hair
                conn.scope.done()
                await trio.aclose_forcefully(conn.secure)
                return
            winner.append(conn)
            node.peerstore.add_addrs(conn.peer_id, [addr], DEFAULT_TTL)
            node.peerstore.mark_success(conn.peer_id, addr)
            nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            for index, addr in enumerate(addrs):
                nursery.start_soon(attempt, index, addr)
                if index + 1 < len(addrs):
                    with trio.move_on_after(node.config.dial_stagger):
                        await failed[index].wait()
        return winner[0] if winner else None

    async def _dial_addr(
        self, addr: Multiaddr, peer: PeerId | None, role: Role = _US, *, punch: bool = False
    ) -> Connection:
        """Connect and upgrade one address as ``role`` (the initiator, unless a simultaneous
        open assigned roles); the connection is not admitted or running yet."""
        node = self._node
        transport = node.transport_for(addr)

        def gater_bug(exc: Exception) -> None:
            node.faults.record("gater", exc, peer)

        try:
            consult(
                lambda: node.gater.allow_dial(peer, addr),
                stage="dial",
                refusal=f"dialling {addr}",
                on_bug=gater_bug,
            )
            scope = node.resources.open_connection(role=role)
        except (ConnectionDenied, LimitExceeded) as exc:
            node.events.publish(refused(exc, remote_addr=addr, peer_id=peer, role=role))
            raise
        timeout = node.config.dial_timeout
        upgrading = False
        started = trio.current_time()
        try:
            with trio.fail_after(timeout):
                raw = await transport.dial(addr)
                upgrading = True
                if punch:
                    _reset_on_close(raw.stream, True)
                    logger.debug("punched %s from %s: upgrading as %s", addr, raw.local_addr, role)
                upgraded = await node.upgrader.upgrade(
                    raw,
                    role=role,
                    expected_peer=peer,
                    memory=scope,
                    on_gater_bug=gater_bug,
                    on_refused=node.events.publish,
                )
        except trio.TooSlowError as exc:
            scope.done()
            raise TransportError(f"dialling {addr} timed out after {timeout} s") from exc
        except (*_CLOSED_BY_REMOTE, NegotiationFailed) as exc:
            scope.done()
            if not upgrading or not _closed_by_remote(exc):
                raise
            raise RemoteClosed(
                f"closed by the remote during the upgrade (it may have refused us): {exc}"
            ) from exc
        except BaseException:
            scope.done()
            raise
        if punch:
            _reset_on_close(raw.stream, False)
        conn = Connection.from_upgrade(node, raw, upgraded, role=role, scope=scope)
        conn.dial_seconds = trio.current_time() - started
        return conn
