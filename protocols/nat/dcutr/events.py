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
    CONNECT/SYNC rounds it took (1 to ``max_attempts``; 0 with ``direct``), ``initiator``
    whether we ran the exchange (we had received the relayed connection). ``direct``: no
    punch was needed, a plain dial to one of the peer's public addresses connected (the
    spec's unilateral upgrade; ``rtt`` is then 0).
    """

    peer: PeerId
    addr: Multiaddr
    rtt: float
    attempts: int
    initiator: bool = True
    direct: bool = False


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


FAILURE_CLASSES = ("unsupported", "stream", "no-addrs", "no-connection", "timeout", "busy",
                   "refused", "other")  # fmt: skip
"""The classes :func:`failure_class` sorts a :class:`HolePunchFailed` reason into."""


def failure_class(reason: str) -> str:
    """The class of a hole punch failure's ``reason`` (for counters and metrics):
    ``unsupported`` (the peer does not speak DCUtR), ``stream`` (no DCUtR stream),
    ``no-addrs`` (no address to send or to punch), ``no-connection`` (every round's dials
    failed: a NAT that does not keep ports, a firewall), ``timeout`` (the peer did not answer),
    ``busy`` (another punch with that peer or over capacity), ``refused`` (a malformed or
    unexpected message), ``other``."""
    if reason.startswith("protocol not supported"):
        return "unsupported"
    if reason.startswith("cannot open a DCUtR stream"):
        return "stream"
    if reason.startswith(("no public address of ours", "the peer sent no address")):
        return "no-addrs"
    if (
        "attempts failed" in reason
        or "without a connection" in reason
        or (reason.startswith("no direct connection after"))
    ):
        return "no-connection"
    if "timed out" in reason or "did not answer in time" in reason:
        return "timeout"
    if reason == "another hole punch is running":
        return "busy"
    if reason.startswith("refused:"):
        return "refused"
    return "other"
