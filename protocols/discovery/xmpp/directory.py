"""The presence directory: our roster and our contacts' current presence, per full JID.

Every update builds a new immutable :class:`Snapshot` and swaps the reference, so a check
never sees a half-updated state. An unavailable presence removes that full JID's addresses and
key; losing our own XMPP session removes everything (the server re-sends presence after we
reconnect). What was removed is remembered by key in ``departed`` for diagnostics only (a
rejection can then say "unavailable" or "stale" instead of "unknown key"); it never authorises.

Available contacts with a subscription and both ``<p2p/>`` and an Ed25519 key feed the node's
peer store: their local and external addresses (and published relayed addresses) under the
peer id derived from the key.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal

import trio

from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.xmpp.jid import Jid
from p2pstack.protocols.discovery.xmpp.presence import P2PInfo, PresencePayload

if TYPE_CHECKING:
    from p2pstack.host.peerstore import PeerStore

logger: Final = logging.getLogger("p2pstack.discovery.xmpp")

SUBSCRIBED: Final = frozenset({"to", "both"})
"""Roster subscriptions under which we receive the contact's presence."""
PEERSTORE_TTL: Final = 600.0
MAX_DEPARTED: Final = 1024


@dataclass(frozen=True, slots=True)
class Contact:
    """One current available presence."""

    jid: Jid
    payload: PresencePayload
    received: float

    @property
    def p2p(self) -> P2PInfo | None:
        return self.payload.p2p

    @property
    def key(self) -> bytes | None:
        return self.payload.ed25519

    @property
    def peer_id(self) -> PeerId | None:
        return self.payload.peer_id


@dataclass(frozen=True, slots=True)
class Departed:
    """Why a published key is no longer current (diagnostics only)."""

    jid: Jid
    reason: Literal["unavailable", "stale"]
    at: float
    ips: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable view of the directory."""

    version: int = 0
    online: bool = False
    own_jid: Jid | None = None
    own_p2p: P2PInfo | None = None
    roster: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Bare JID -> subscription (none / to / from / both)."""
    presences: Mapping[Jid, Contact] = field(default_factory=lambda: MappingProxyType({}))
    departed: Mapping[bytes, Departed] = field(default_factory=lambda: MappingProxyType({}))

    def subscription(self, jid: Jid) -> str | None:
        """The roster subscription of ``jid``'s bare JID, None when not in the roster."""
        return self.roster.get(jid.bare)

    def is_subscribed(self, jid: Jid) -> bool:
        return self.subscription(jid) in SUBSCRIBED

    def lookup(self, jid: Jid) -> Contact | None:
        """The current available presence of the full JID ``jid``."""
        return self.presences.get(jid)

    def resources(self, bare: str) -> list[Contact]:
        """Available resources of a bare JID, most recent presence first."""
        found = [c for c in self.presences.values() if c.jid.bare == bare]
        return sorted(found, key=lambda c: c.received, reverse=True)

    def by_key(self, key: bytes) -> list[Contact]:
        """Contacts currently publishing ``key`` (constant-time byte comparison)."""
        return [c for c in self.presences.values() if c.key and hmac.compare_digest(c.key, key)]

    def by_ip(self, ip: str) -> list[Contact]:
        """Contacts whose published local or external IP is ``ip``."""
        return [c for c in self.presences.values() if c.p2p is not None and ip in c.p2p.ips()]

    def authorised_ips(self) -> frozenset[str]:
        """IPs published by subscribed, available contacts with P2P info and a key."""
        return frozenset(
            ip
            for c in self.presences.values()
            if c.p2p is not None and c.key is not None and self.is_subscribed(c.jid)
            for ip in c.p2p.ips()
        )


def contact_addrs(p2p: P2PInfo) -> list[Multiaddr]:
    """The TCP multiaddrs of a ``<p2p/>`` record: local first, then external (deduplicated)."""
    out: list[Multiaddr] = []
    for host, port in ((p2p.loc_ip, p2p.loc_port), (p2p.ext_ip, p2p.ext_port)):
        addr = Multiaddr.from_host_port(host, port)
        if addr not in out:
            out.append(addr)
    return out


def same_ip(a: str, b: str) -> bool:
    """IP equality after normalisation (IPv4-mapped IPv6, zones)."""
    try:
        ia, ib = (ipaddress.ip_address(x.partition("%")[0]) for x in (a, b))
    except ValueError:
        return False
    ia = ia.ipv4_mapped or ia if isinstance(ia, ipaddress.IPv6Address) else ia
    ib = ib.ipv4_mapped or ib if isinstance(ib, ipaddress.IPv6Address) else ib
    return ia == ib


class Directory:
    """The mutable owner of the snapshots; all mutators run in the trio thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._snap = Snapshot()
        self._changed = trio.Event()
        self._peerstore: PeerStore | None = None
        self._fed: dict[PeerId, list[Multiaddr]] = {}

    @property
    def snapshot(self) -> Snapshot:
        return self._snap

    def attach_peerstore(self, peerstore: PeerStore) -> None:
        """Feed ``peerstore`` with the addresses of authorised contacts from now on."""
        self._peerstore = peerstore
        self._feed()

    # ------------------------------------------------------------------ mutators
    def _swap(self, **changes: object) -> None:
        self._snap = replace(self._snap, version=self._snap.version + 1, **changes)  # type: ignore[arg-type]
        self._feed()
        self._changed.set()
        self._changed = trio.Event()

    def session_started(self, own_jid: Jid) -> None:
        """Our session is up with the bound full JID ``own_jid``."""
        self._swap(online=True, own_jid=own_jid)

    def session_lost(self) -> None:
        """Our session ended: every presence is stale; clear them (and the roster)."""
        departed = self._departures(self._snap.presences.values(), "stale")
        self._swap(
            online=False,
            presences=MappingProxyType({}),
            roster=MappingProxyType({}),
            departed=departed,
        )
        logger.info("XMPP session lost: cleared every contact's presence")

    def set_own_p2p(self, p2p: P2PInfo | None) -> None:
        """What we publish (our external IP is one side of the IP rule)."""
        if p2p != self._snap.own_p2p:
            self._swap(own_p2p=p2p)

    def set_roster(self, items: Mapping[str, str]) -> None:
        """Replace the roster: bare JID -> subscription."""
        roster = {Jid.parse(jid).bare: sub for jid, sub in items.items() if sub != "remove"}
        self._swap(roster=MappingProxyType(roster))

    def roster_item(self, bare_jid: str, subscription: str) -> None:
        """A roster push: set one item (``remove`` deletes it)."""
        roster = dict(self._snap.roster)
        bare = Jid.parse(bare_jid).bare
        if subscription == "remove":
            roster.pop(bare, None)
        else:
            roster[bare] = subscription
        if roster != dict(self._snap.roster):
            self._swap(roster=MappingProxyType(roster))

    def available(self, jid: Jid, payload: PresencePayload) -> None:
        """An available presence from the full JID ``jid`` (replaces what it published)."""
        if not jid.is_full:
            logger.debug("ignoring presence from bare JID %s", jid)
            return
        for error in payload.errors:
            logger.info("presence from %s: dropped invalid %s", jid, error)
        presences = dict(self._snap.presences)
        presences[jid] = Contact(jid, payload, self._clock())
        departed = self._snap.departed
        if payload.ed25519 is not None and payload.ed25519 in departed:
            departed = MappingProxyType({k: v for k, v in departed.items() if k != payload.ed25519})
        self._swap(presences=MappingProxyType(presences), departed=departed)

    def unavailable(self, jid: Jid) -> None:
        """An unavailable presence: forget that full JID's addresses and key."""
        old = self._snap.presences.get(jid)
        if old is None:
            return
        presences = {k: v for k, v in self._snap.presences.items() if k != jid}
        self._swap(
            presences=MappingProxyType(presences),
            departed=self._departures([old], "unavailable"),
        )

    def _departures(
        self, gone: Iterable[Contact], reason: Literal["unavailable", "stale"]
    ) -> Mapping[bytes, Departed]:
        departed = dict(self._snap.departed)
        now = self._clock()
        for contact in gone:
            if contact.key is not None:
                departed.pop(contact.key, None)
                ips = contact.p2p.ips() if contact.p2p is not None else frozenset()
                departed[contact.key] = Departed(contact.jid, reason, now, ips)
        while len(departed) > MAX_DEPARTED:
            departed.pop(next(iter(departed)))
        return MappingProxyType(departed)

    def _feed(self) -> None:
        store = self._peerstore
        if store is None:
            return
        snap = self._snap
        wanted: dict[PeerId, list[Multiaddr]] = {}
        for contact in snap.presences.values():
            peer = contact.peer_id
            if peer is None or contact.p2p is None or not snap.is_subscribed(contact.jid):
                continue
            addrs = wanted.setdefault(peer, [])
            addrs.extend(a for a in contact_addrs(contact.p2p) if a not in addrs)
            addrs.extend(a for a in contact.payload.relays if a not in addrs)
        for peer, addrs in self._fed.items():
            for addr in addrs:
                if addr not in wanted.get(peer, []):
                    store.remove_addr(peer, addr)
        for peer, addrs in wanted.items():
            store.add_addrs(peer, addrs, PEERSTORE_TTL)
        self._fed = wanted

    # ------------------------------------------------------------------ waiting
    async def wait_changed(self, version: int) -> Snapshot:
        """Wait until the snapshot's version is above ``version``; return it."""
        while self._snap.version <= version:
            await self._changed.wait()
        return self._snap

    async def wait_for(self, predicate: Callable[[Snapshot], object]) -> Snapshot:
        """Wait until ``predicate(snapshot)`` is truthy; return that snapshot."""
        snap = self._snap
        while not predicate(snap):
            snap = await self.wait_changed(snap.version)
        return snap
