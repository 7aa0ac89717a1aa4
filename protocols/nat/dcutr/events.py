"""Events of the DCUtR service, published on the node's event bus."""

from __future__ import annotations

from dataclasses import dataclass

from p2pstack.host.events import Event
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr


@dataclass(frozen=True, slots=True)
class HolePunchSucceeded(Event):
    """A direct connection to ``peer`` replaced the relayed one.

    ``addr`` is the peer's address the direct connection reached, ``rtt`` the relayed
    round trip measured in the last attempt (seconds), ``attempts`` how many
    CONNECT/SYNC rounds it took (1 to ``max_attempts``), ``initiator`` whether we ran the
    exchange (we had received the relayed connection).
    """

    peer: PeerId
    addr: Multiaddr
    rtt: float
    attempts: int
    initiator: bool = True


@dataclass(frozen=True, slots=True)
class HolePunchFailed(Event):
    """No direct connection to ``peer``: the relayed connection stays.

    ``reason`` says why, in words (``"no addresses to punch"``, ``"protocol not supported
    by the peer"``, ``"all 3 attempts failed: ..."``, ``"timed out"``, a protocol error...).
    """

    peer: PeerId
    reason: str
    attempts: int
    initiator: bool = True
