"""The client side of the hop protocol: reserve a slot on a relay, connect through it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.relay.circuit import CircuitStream
from p2pstack.protocols.relay.envelope import Voucher, verify_voucher
from p2pstack.protocols.relay.errors import RelayProtocolError, RelayRefused
from p2pstack.protocols.relay.messages import HOP_PROTOCOL, HopMessage, HopType, Limit, Peer
from p2pstack.protocols.relay.status import Status
from p2pstack.protocols.relay.wire import read_hop, write_hop

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection

logger: Final = logging.getLogger("p2pstack.relay")


@dataclass(frozen=True, slots=True)
class ReservationInfo:
    """A reservation held on ``relay``."""

    relay: PeerId
    expire: int
    """Unix time (UTC seconds) at which it lapses unless renewed."""
    addrs: tuple[Multiaddr, ...]
    """The relay's addresses (with ``/p2p/<relay>``) to advertise with ``/p2p-circuit``."""
    limit: Limit | None
    voucher: Voucher | None


def _check_status(reply: HopMessage, what: str) -> None:
    if reply.type != HopType.STATUS:
        raise RelayProtocolError(f"relay answered {what} with {reply.type.name}, not STATUS")
    if reply.status != Status.OK:
        status = reply.status if reply.status is not None else Status.UNUSED
        raise RelayRefused(f"relay refused {what}: {Status.name_of(status)}", status=status)


async def reserve(
    conn: Connection,
    *,
    time_limit: float = 30.0,
    verify: bool = True,
    wall_clock: Callable[[], float] = time.time,
) -> ReservationInfo:
    """Reserve a slot on the relay at the other end of ``conn`` (or renew it).

    Keep ``conn`` open: the reservation dies with it.

    Raises:
        RelayRefused: the relay said no (``status`` tells why).
        RelayProtocolError, RelayMessageError, VoucherError: a bad answer.
        NegotiationFailed: the peer is not a relay.
    """
    relay = conn.peer_id
    with trio.fail_after(time_limit):
        stream = await conn.new_stream(HOP_PROTOCOL)
        try:
            await write_hop(stream, HopMessage(HopType.RESERVE))
            reply = await read_hop(stream)
        finally:
            await stream.aclose()
    _check_status(reply, "the reservation")
    rsvp = reply.reservation
    if rsvp is None:
        raise RelayProtocolError("the relay's OK carries no reservation")
    if rsvp.expire < wall_clock():
        raise RelayProtocolError(f"the reservation expired already (expire={rsvp.expire})")
    voucher = None
    if rsvp.voucher is not None and verify:
        voucher = verify_voucher(rsvp.voucher, relay=relay, peer=conn.node.peer_id)
    addrs = tuple(a.with_peer_id(relay) for a in rsvp.addrs if not a.has_protocol("p2p-circuit"))
    return ReservationInfo(relay, rsvp.expire, addrs, reply.limit, voucher)


async def connect(conn: Connection, target: PeerId, *, time_limit: float = 30.0) -> CircuitStream:
    """Ask the relay at the other end of ``conn`` for a circuit to ``target``.

    Returns the circuit (the caller runs the connection upgrade on it, as initiator).

    Raises:
        RelayRefused: the relay or the target refused (NO_RESERVATION, ...).
        RelayProtocolError, RelayMessageError: a bad answer.
    """
    with trio.fail_after(time_limit):
        stream = await conn.new_stream(HOP_PROTOCOL)
        try:
            await write_hop(stream, HopMessage(HopType.CONNECT, peer=Peer(target)))
            reply = await read_hop(stream)
            _check_status(reply, f"the circuit to {target}")
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
    limit = reply.limit if reply.limit is not None and not reply.limit.is_unlimited else None
    logger.debug("circuit to %s via %s open (limit %s)", target, conn.peer_id, limit)
    return CircuitStream(
        stream, limit=limit, relay=conn.peer_id, remote_peer=target, spawn=conn.spawn
    )
