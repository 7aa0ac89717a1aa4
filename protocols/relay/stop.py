"""The destination side of a circuit: answering the relay's stop ``CONNECT``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import trio

from p2pstack.errors import ProtocolError
from p2pstack.protocols.relay.circuit import CircuitStream
from p2pstack.protocols.relay.messages import Limit, Peer, StopMessage, StopType
from p2pstack.protocols.relay.status import Status
from p2pstack.protocols.relay.wire import read_stop, write_stop

if TYPE_CHECKING:
    from p2pstack.host.netstream import NetStream

logger: Final = logging.getLogger("p2pstack.relay")

AcceptCircuit = Callable[[Peer, Limit | None], Status]
"""Decides on an incoming circuit from ``Peer`` under ``Limit``: OK or a refusal status."""


async def accept_stop(
    stream: NetStream, decide: AcceptCircuit, *, time_limit: float = 10.0
) -> CircuitStream | None:
    """Read the relay's ``CONNECT``, answer it, and return the circuit if accepted.

    Refusals and malformed requests are answered with a STATUS and give None.
    """
    try:
        with trio.fail_after(time_limit):
            request = await read_stop(stream)
    except trio.TooSlowError:
        return None
    except ProtocolError as exc:
        logger.debug("malformed stop request from %s: %s", stream.remote_peer, exc)
        await _status(stream, Status.MALFORMED_MESSAGE)
        return None
    if request.type != StopType.CONNECT:
        await _status(stream, Status.UNEXPECTED_MESSAGE)
        return None
    if request.peer is None:
        await _status(stream, Status.MALFORMED_MESSAGE)
        return None
    limit = request.limit if request.limit is not None and not request.limit.is_unlimited else None
    verdict = decide(request.peer, limit)
    await _status(stream, verdict)
    if verdict != Status.OK:
        return None
    return CircuitStream(
        stream,
        limit=limit,
        relay=stream.remote_peer,
        remote_peer=request.peer.id,
        spawn=stream.connection.spawn,
    )


async def _status(stream: NetStream, status: Status) -> None:
    with trio.move_on_after(10):
        await write_stop(stream, StopMessage(StopType.STATUS, status=status))
