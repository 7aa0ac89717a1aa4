"""The relay server: the hop protocol (reservations, connect) and the spliced circuits.

Add ``relay_server()`` to a node's protocols. Peers reserve a slot (``RESERVE``), keep their
connection to the relay open and renew before the reservation expires; other peers then
``CONNECT`` to them through the relay, which opens the stop protocol towards the reserved
peer and splices the two streams, cutting the circuit at the configured :class:`Limit`.
Reservations die with the reserving peer's connection. Refusals follow go-libp2p's
statuses; every decision is logged and counted in :attr:`RelayService.metrics`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.arguments import config_arg, instance_arg, sequence_arg
from p2pstack.errors import LimitExceeded, ProtocolError, StackError
from p2pstack.host.events import ConnectionClosed
from p2pstack.host.gater import refusal_of
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.relay.circuit import SpliceResult, splice
from p2pstack.protocols.relay.config import RelayConfig
from p2pstack.protocols.relay.envelope import make_voucher
from p2pstack.protocols.relay.messages import (
    HOP_PROTOCOL,
    STOP_PROTOCOL,
    HopMessage,
    HopType,
    Limit,
    Peer,
    Reservation,
    StopMessage,
    StopType,
)
from p2pstack.protocols.relay.metrics import RelayMetrics
from p2pstack.protocols.relay.resources import CircuitEntry, Refusal, RelayResources
from p2pstack.protocols.relay.status import Status
from p2pstack.protocols.relay.wire import read_hop, read_stop, write_hop, write_stop

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection
    from p2pstack.host.context import NodeContext
    from p2pstack.host.netstream import NetStream

logger: Final = logging.getLogger("p2pstack.relay")

_STREAM_ERRORS: Final = (
    StackError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
)


def is_relayed(conn: Connection) -> bool:
    """Whether ``conn`` itself runs through a relay."""
    return bool(getattr(conn, "limited", False)) or conn.remote_addr.has_protocol("p2p-circuit")


def keep_alive(conn: Connection, on: bool) -> None:
    """Exempt ``conn`` from the node's idle timeout (while a reservation needs it)."""
    if hasattr(conn, "keep_alive"):
        conn.keep_alive = on
        conn.touch()


def _ip_of(addr: Multiaddr) -> str | None:
    comps = addr.components()
    if comps and comps[0].name in ("ip4", "ip6"):
        return comps[0].value
    return None


class RelayService:
    """A circuit relay v2 server on a node (see the module docstring)."""

    def __init__(
        self,
        config: RelayConfig,
        *,
        public_addrs: list[Multiaddr] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.resources = RelayResources(config)
        self.metrics = RelayMetrics()
        self.public_addrs = list(public_addrs) if public_addrs else None
        """Addresses announced in reservations; default: the node's own addresses."""
        self._wall_clock = wall_clock
        self._node: NodeContext | None = None

    @property
    def node(self) -> NodeContext:
        if self._node is None:
            raise StackError("the relay service is not attached to a running node")
        return self._node

    @property
    def limit(self) -> Limit | None:
        """The ``Limit`` every circuit carries, or None (unlimited circuits)."""
        cfg = self.config
        if not cfg.has_circuit_limit:
            return None
        return Limit(duration=cfg.circuit_duration, data=cfg.circuit_data)

    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._node = node
        node.set_stream_handler(HOP_PROTOCOL, self._handle_hop)
        with node.events.subscribe(4096) as events:
            task_status.started()
            async for event in events:
                if isinstance(event, ConnectionClosed):
                    self._forget(event.peer_id)

    def _forget(self, peer: PeerId) -> None:
        node = self.node
        if node.connection_to(peer) is None and self.resources.release(peer):
            logger.info("reservation of %s ended with its connection", peer)
        self.metrics.active_reservations = len(self.resources.reservations)

    def relay_addrs(self) -> list[Multiaddr]:
        """The relay's addresses with ``/p2p/<relay id>``, as put in reservations."""
        node = self.node
        addrs = self.public_addrs if self.public_addrs is not None else node.listen_addrs
        return [a.with_peer_id(node.peer_id) for a in addrs if not a.has_protocol("p2p-circuit")]

    def _gater_allows(
        self, verdict: Callable[[], bool], *, stage: str, refusal: str, peer: PeerId
    ) -> bool:
        """The node gater's verdict on a relay request, under the gater contract."""
        node = self.node
        denied = refusal_of(
            verdict,
            stage=stage,
            refusal=refusal,
            on_bug=lambda exc: node.faults.record("gater", exc, peer),
        )
        if denied is not None:
            logger.info("%s", denied)
        return denied is None

    # ---------------------------------------------------------------------- hop
    async def _refuse(
        self, stream: NetStream, request: str, status: Status, reason: str | Refusal | None = None
    ) -> None:
        """Answer ``status`` to a ``request`` (reserve, connect, hop); ``reason`` names the
        limit or check that refused (default: the status name)."""
        if isinstance(reason, Refusal):
            label, text = reason.limit, str(reason)
        else:
            label = text = reason or status.name
        self.metrics.refuse(label, request)
        logger.info(
            "refused %s %s from %s: %s (%s)",
            request,
            stream.protocol,
            stream.remote_peer,
            text,
            status.name,
        )
        try:
            with trio.move_on_after(self.config.request_timeout):
                await write_hop(stream, HopMessage(HopType.STATUS, status=status))
        except _STREAM_ERRORS as exc:
            logger.debug("could not send %s: %s", status.name, exc)

    async def _handle_hop(self, stream: NetStream) -> None:
        conn = stream.connection
        peer = conn.peer_id
        ip = _ip_of(conn.remote_addr)
        try:
            with trio.fail_after(self.config.request_timeout):
                request = await read_hop(stream)
        except trio.TooSlowError:
            self.metrics.refuse("TIMEOUT", "hop")
            return
        except ProtocolError as exc:
            logger.debug("malformed hop request from %s: %s", peer, exc)
            await self._refuse(stream, "hop", Status.MALFORMED_MESSAGE)
            return
        kind = {HopType.RESERVE: "reserve", HopType.CONNECT: "connect"}.get(request.type, "hop")
        if is_relayed(conn):
            await self._refuse(stream, kind, Status.PERMISSION_DENIED, "RELAYED_CONNECTION")
            return
        rate = self.resources.allow_request(peer, ip, trio.current_time())
        if rate is not None:
            await self._refuse(stream, kind, rate.status, rate)
            return
        if request.type == HopType.RESERVE:
            await self._reserve(stream, peer, ip)
        elif request.type == HopType.CONNECT:
            await self._connect(stream, request, peer, ip)
        else:
            await self._refuse(stream, kind, Status.UNEXPECTED_MESSAGE)

    async def _reserve(self, stream: NetStream, peer: PeerId, ip: str | None) -> None:
        remote = stream.connection.remote_addr
        if not self._gater_allows(
            lambda: self.node.gater.allow_relay_reservation(peer, remote),
            stage="relay-reservation",
            refusal=f"a relay reservation for {peer}",
            peer=peer,
        ):
            await self._refuse(stream, "reserve", Status.RESERVATION_REFUSED, "GATER")
            return
        refusal = self.resources.reserve(peer, ip, trio.current_time())
        self.metrics.active_reservations = len(self.resources.reservations)
        if refusal is not None:
            await self._refuse(stream, "reserve", refusal.status, refusal)
            return
        expire = int(self._wall_clock() + self.config.reservation_ttl)
        voucher = (
            make_voucher(self.node.identity, peer, expire) if self.config.send_voucher else None
        )
        reply = HopMessage(
            HopType.STATUS,
            reservation=Reservation(
                expire=expire, addrs=tuple(self.relay_addrs()), voucher=voucher
            ),
            limit=self.limit,
            status=Status.OK,
        )
        await write_hop(stream, reply)
        keep_alive(stream.connection, True)  # the reservation lives as long as this connection
        self.metrics.reservations_accepted += 1
        logger.info("reservation for %s until %d (unix)", peer, expire)

    async def _connect(
        self, stream: NetStream, request: HopMessage, src: PeerId, ip: str | None
    ) -> None:
        if request.peer is None:
            await self._refuse(stream, "connect", Status.MALFORMED_MESSAGE)
            return
        dst = request.peer.id
        if not self._gater_allows(
            lambda: self.node.gater.allow_relay_circuit(src, dst),
            stage="relay-circuit",
            refusal=f"relaying {src} to {dst}",
            peer=src,
        ):
            await self._refuse(stream, "connect", Status.PERMISSION_DENIED, "GATER")
            return
        try:  # the circuit's two copy buffers, from the relay service's memory budget
            stream.scope.set_service("relay")
            stream.scope.reserve_memory(2 * self.config.copy_buffer)
        except LimitExceeded as exc:
            logger.info("circuit from %s refused: %s", src, exc)
            await self._refuse(stream, "connect", Status.RESOURCE_LIMIT_EXCEEDED, "MEMORY")
            return
        entry = self.resources.open_circuit(src, ip, dst, trio.current_time())
        if isinstance(entry, Refusal):
            await self._refuse(stream, "connect", entry.status, entry)
            return
        try:
            await self._run_circuit(stream, entry)
        finally:
            self.resources.close_circuit(entry)
            self.metrics.active_circuits = len(self.resources.circuits)

    async def _run_circuit(self, stream: NetStream, entry: CircuitEntry) -> None:
        dst_conn = self.node.connection_to(entry.dst)
        if dst_conn is None or is_relayed(dst_conn):
            self.resources.release(entry.dst)
            self.metrics.active_reservations = len(self.resources.reservations)
            await self._refuse(stream, "connect", Status.NO_RESERVATION)
            return
        limit = self.limit
        try:
            with trio.fail_after(self.config.stop_timeout):
                stop = await dst_conn.new_stream(STOP_PROTOCOL)
        except _STREAM_ERRORS as exc:
            logger.info("stop stream to %s failed: %s", entry.dst, exc)
            await self._refuse(stream, "connect", Status.CONNECTION_FAILED)
            return
        try:
            with trio.fail_after(self.config.stop_timeout):
                await write_stop(
                    stop, StopMessage(StopType.CONNECT, peer=Peer(entry.src), limit=limit)
                )
                reply = await read_stop(stop)
        except _STREAM_ERRORS as exc:
            logger.info("stop handshake with %s failed: %s", entry.dst, exc)
            await stop.reset()
            await self._refuse(stream, "connect", Status.CONNECTION_FAILED)
            return
        if reply.type != StopType.STATUS or reply.status != Status.OK:
            logger.info(
                "%s declined the circuit from %s: %s",
                entry.dst,
                entry.src,
                Status.name_of(reply.status or 0),
            )
            await stop.reset()
            await self._refuse(stream, "connect", Status.CONNECTION_FAILED)
            return
        try:
            await write_hop(stream, HopMessage(HopType.STATUS, limit=limit, status=Status.OK))
        except _STREAM_ERRORS:
            await stop.reset()
            raise
        self.metrics.circuits_opened += 1
        self.metrics.active_circuits = len(self.resources.circuits)
        logger.info("circuit %d open: %s -> %s", entry.id, entry.src, entry.dst)

        def count(n: int) -> None:
            self.metrics.bytes_relayed += n

        result = SpliceResult("closed")
        try:
            await splice(
                stream,
                stop,
                duration=self.config.circuit_duration,
                data=self.config.circuit_data,
                buffer=self.config.copy_buffer,
                on_bytes=count,
                result=result,
            )
        finally:  # also when the dialler's connection closing cancels this handler
            self.metrics.circuits_closed += 1
            self.metrics.circuit_ends[result.reason] += 1
            logger.info(
                "circuit %d closed (%s): %d bytes forward, %d back",
                entry.id,
                result.reason,
                result.bytes_forward,
                result.bytes_backward,
            )


def relay_server(
    config: RelayConfig | None = None, *, public_addrs: list[Multiaddr] | None = None
) -> RelayService:
    """The relay (hop) server factory; ``RelayConfig.bulk()`` for the bulk profile.

    ``public_addrs``: the addresses to put in reservations (default: what the node listens on).
    """
    addrs = sequence_arg(public_addrs, "relay_server(public_addrs)")
    for i, addr in enumerate(addrs or ()):
        instance_arg(addr, Multiaddr, f"relay_server(public_addrs)[{i}]")
    return RelayService(config_arg(config, RelayConfig, "relay_server(config)"), public_addrs=addrs)
