"""Dialling a contact by JID from its published ``<p2p/>`` and Ed25519 key.

Address choice: a contact with the same external IP as ours is on our LAN, so its local
address comes first, else its external address; the other one follows (CGNAT: equal external
IPs on different LANs), then the relayed addresses the contact published (``<relay/>``), then
``<relay>/p2p-circuit`` through our configured relay. Every address is pinned to the peer id
derived from the published key, so Noise refuses impostors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import trio

from p2pstack.errors import DialError, StackError, TransportError
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.xmpp.directory import Contact, Directory, Snapshot, same_ip
from p2pstack.protocols.discovery.xmpp.jid import Jid
from p2pstack.protocols.discovery.xmpp.presence import P2PInfo

logger: Final = logging.getLogger("p2pstack.discovery.xmpp.dial")


class ContactError(StackError):
    """Dialling a contact by JID failed; ``jid`` names the contact."""

    def __init__(self, message: str, *, jid: str) -> None:
        super().__init__(message)
        self.jid = jid


class ContactNotAvailable(ContactError):
    """No current available presence from that JID (offline, unknown, or not subscribed)."""


class ContactHasNoP2PInfo(ContactError):
    """The contact is available but published no usable ``<p2p/>`` or Ed25519 key."""


class ContactDialFailed(ContactError):
    """Every candidate address failed; ``attempts`` lists (address, error)."""

    def __init__(
        self, message: str, *, jid: str, attempts: list[tuple[str, BaseException]]
    ) -> None:
        detail = "; ".join(f"{addr}: {err}" for addr, err in attempts)
        super().__init__(f"{message} ({detail})" if detail else message, jid=jid)
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class DialResult:
    """The connection and which address reached the contact."""

    connection: Connection
    addr: Multiaddr
    kind: str
    """``local``, ``external`` or ``relay``."""
    contact: Contact


def candidate_addrs(
    own: P2PInfo | None,
    theirs: P2PInfo,
    peer: PeerId,
    relay: Multiaddr | None = None,
    relays: Sequence[Multiaddr] = (),
) -> list[tuple[str, Multiaddr]]:
    """The addresses to try in order, each as (kind, multiaddr with ``/p2p/<peer>``);
    ``relays``: the contact's published ``<relay>/p2p/<id>/p2p-circuit`` addresses."""
    local = ("local", Multiaddr.from_host_port(theirs.loc_ip, theirs.loc_port))
    external = ("external", Multiaddr.from_host_port(theirs.ext_ip, theirs.ext_port))
    same_lan = own is not None and same_ip(own.ext_ip, theirs.ext_ip)
    ordered = [local, external] if same_lan else [external, local]
    out: list[tuple[str, Multiaddr]] = []
    for kind, addr in ordered:
        if all(addr != a.without_peer_id() for _, a in out):
            out.append((kind, addr.with_peer_id(peer)))
    circuits = [Multiaddr(r) for r in relays]
    if relay is not None:
        circuits.append(Multiaddr(f"{relay}/p2p-circuit"))
    for circuit in circuits:
        addr = circuit.with_peer_id(peer)
        if all(addr != a for _, a in out):
            out.append(("relay", addr))
    return out


def pick_contact(snap: Snapshot, jid: Jid) -> Contact:
    """The contact to dial: the full JID itself, or a bare JID's freshest resource with P2P info.

    Raises:
        ContactNotAvailable, ContactHasNoP2PInfo.
    """
    if not snap.is_subscribed(jid):
        raise ContactNotAvailable(
            f"{jid.bare} is not a roster contact whose presence we receive", jid=str(jid)
        )
    if jid.is_full:
        contact = snap.lookup(jid)
        if contact is None:
            raise ContactNotAvailable(f"no available presence from {jid}", jid=str(jid))
        candidates = [contact]
    else:
        candidates = snap.resources(jid.bare)
        if not candidates:
            raise ContactNotAvailable(f"no available resource of {jid}", jid=str(jid))
    for contact in candidates:
        if contact.p2p is not None and contact.key is not None:
            return contact
    raise ContactHasNoP2PInfo(f"{jid} published no p2p address and key", jid=str(jid))


async def wait_for_contact(directory: Directory, jid: Jid) -> Contact:
    """Wait until :func:`pick_contact` succeeds (bound it with a trio deadline)."""
    while True:
        snap = directory.snapshot
        try:
            return pick_contact(snap, jid)
        except ContactError:
            await directory.wait_changed(snap.version)


async def dial_contact(
    node: NodeContext,
    directory: Directory,
    jid: Jid | str,
    *,
    relay: Multiaddr | None = None,
    wait: float = 0.0,
    attempt_timeout: float = 10.0,
) -> DialResult:
    """Connect to the contact ``jid`` (full, or bare for its freshest resource).

    ``wait`` seconds are spent waiting for a usable presence first (0: fail at once).

    Raises:
        ContactNotAvailable, ContactHasNoP2PInfo, ContactDialFailed.
    """
    target = jid if isinstance(jid, Jid) else Jid.parse(jid)
    if wait > 0:
        with trio.move_on_after(wait):
            await wait_for_contact(directory, target)
    snap = directory.snapshot
    contact = pick_contact(snap, target)
    assert contact.p2p is not None
    assert contact.peer_id is not None
    attempts: list[tuple[str, BaseException]] = []
    candidates = candidate_addrs(
        snap.own_p2p, contact.p2p, contact.peer_id, relay, contact.payload.relays
    )
    for kind, addr in candidates:
        logger.info("dialling %s at %s address %s", contact.jid, kind, addr)
        try:
            with trio.fail_after(attempt_timeout):
                conn = await node.dial(addr)
        except trio.TooSlowError:
            exc = TransportError(f"no connection within {attempt_timeout} s")
            logger.info("dialling %s at %s failed: %s", contact.jid, addr, exc)
            attempts.append((str(addr), exc))
            continue
        except (StackError, OSError) as exc:
            logger.info("dialling %s at %s failed: %s", contact.jid, addr, exc)
            attempts.append((str(addr), exc))
            continue
        return DialResult(conn, addr, kind, contact)
    raise ContactDialFailed(
        f"could not reach {contact.jid}", jid=str(contact.jid), attempts=attempts
    )


__all__ = [
    "ContactDialFailed",
    "ContactError",
    "ContactHasNoP2PInfo",
    "ContactNotAvailable",
    "DialError",
    "DialResult",
    "candidate_addrs",
    "dial_contact",
    "pick_contact",
    "wait_for_contact",
]
