"""Request-response events, published on ``node.events`` next to the node's own events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from p2pstack.host.events import Event

if TYPE_CHECKING:
    from p2pstack.identity import PeerId


@dataclass(frozen=True, slots=True)
class InboundFailure(Event):
    """An inbound request on ``protocol`` from ``peer_id`` was not answered.

    ``error`` says why: NotPermitted, RequestTimeout, BodyTooLarge, CodecError,
    ResponseOmitted (handler failed, responder dropped, request dropped by the backpressure
    policy or over a concurrency limit) or ConnectionDropped.
    """

    peer_id: PeerId
    protocol: str
    error: Exception


@dataclass(frozen=True, slots=True)
class OutboundFailure(Event):
    """An outbound request on ``protocol`` to ``peer_id`` failed (``None``: unknown peer)."""

    peer_id: PeerId | None
    protocol: str
    error: Exception
