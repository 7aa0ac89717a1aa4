"""The connection gater: one policy hook per upgrade stage, and for relays.

The contract, the same for every hook: return True to allow; return False **or** raise
:class:`~p2pstack.errors.ConnectionDenied` to refuse. The node treats both refusals alike (the
connection, reservation or circuit is refused; nothing else happens). Any other exception is
a bug in the gater: it refuses too, and is counted as a fault of the ``"gater"`` boundary.
:func:`consult` applies this contract; every caller of a hook goes through it.

The default :class:`Gater` allows everything. The relay hooks mirror js-libp2p's
``denyInboundRelayReservation``, ``denyOutboundRelayedConnection`` and
``denyInboundRelayedConnection``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from p2pstack.errors import ConnectionDenied
from p2pstack.host.boundary import forget_tracebacks
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection


class Gater:
    """Base gater allowing everything; override the stages you police."""

    def allow_dial(self, peer: PeerId | None, addr: Multiaddr) -> bool:
        """Before dialling ``addr`` (for ``peer`` when known)."""
        return True

    def allow_accept(self, remote_addr: Multiaddr) -> bool:
        """Before any byte of an inbound connection from ``remote_addr`` is read."""
        return True

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        """After the security handshake authenticated ``peer``, before muxer negotiation;
        ``role`` is ours (``Role.RESPONDER`` on a connection we accepted)."""
        return True

    def allow_upgraded(self, connection: Connection) -> bool:
        """After the muxer is up, before the connection is used."""
        return True

    def allow_relay_reservation(self, peer: PeerId, remote_addr: Multiaddr) -> bool:
        """Relay server: before granting ``peer`` (connected from ``remote_addr``) a
        reservation. A refusal answers ``RESERVATION_REFUSED``."""
        return True

    def allow_relay_circuit(self, source: PeerId, target: PeerId) -> bool:
        """Relay server: before relaying a circuit from ``source`` to ``target``. A refusal
        answers ``PERMISSION_DENIED``."""
        return True

    def allow_relayed_accept(self, relay: PeerId, source: PeerId) -> bool:
        """Relay client: before accepting a circuit from ``source`` through ``relay`` (the
        relayed connection is then upgraded and passes the other stages too). A refusal
        answers ``PERMISSION_DENIED`` to the relay."""
        return True


class AllowAllConnections(Gater):
    """Allows every connection (the default gater)."""


def consult(
    verdict: Callable[[], bool],
    *,
    stage: str,
    refusal: str,
    on_bug: Callable[[Exception], None] | None = None,
) -> None:
    """Run one hook call ``verdict()`` under the gater contract.

    ``refusal`` describes what is refused (for the error message); ``on_bug`` receives an
    exception other than ConnectionDenied (a gater bug; the node counts it as a fault)
    before it becomes a refusal, and its traceback is dropped afterwards.

    Raises:
        ConnectionDenied: the hook returned False, raised ConnectionDenied (re-raised as
            is) or failed (``stage`` is set, ``__cause__`` is None: the bug went to
            ``on_bug``).
    """
    try:
        allowed = verdict()
    except ConnectionDenied:
        raise
    except Exception as exc:
        if on_bug is not None:
            on_bug(exc)
        forget_tracebacks(exc)
        raise ConnectionDenied(
            f"the gater failed on {refusal}: {type(exc).__name__}: {exc}", stage=stage
        ) from None
    if not allowed:
        raise ConnectionDenied(f"gater refused {refusal}", stage=stage)


def refusal_of(
    verdict: Callable[[], bool],
    *,
    stage: str,
    refusal: str,
    on_bug: Callable[[Exception], None] | None = None,
) -> ConnectionDenied | None:
    """:func:`consult` as a value: the refusal, or None when the hook allowed."""
    try:
        consult(verdict, stage=stage, refusal=refusal, on_bug=on_bug)
    except ConnectionDenied as exc:
        return exc
    return None
