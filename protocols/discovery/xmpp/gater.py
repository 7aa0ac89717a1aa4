"""Inbound authorisation from XMPP presence, in the order of xmpp-p2p.md section 10.3.

1. At accept (before any crypto): the remote IP must be published by a subscribed, available
   contact with P2P info (a cheap pre-filter, applied when the IP rule is ``strict``).
2. Noise authenticates the remote identity key; it must be Ed25519.
3. The key must be the one currently published by a full JID that is in our roster, with a
   subscription under which we receive its presence (``to``/``both``), and whose current
   available presence carries ``<p2p/>``.
4. The spec's IP rule: same external IP as ours -> remote IP must be their ``locIp``, else
   their ``extIp``. ``strict`` rejects, ``warn`` logs and allows (IPv6, CGNAT, VPNs: the key
   check is the cryptographic one), ``off`` skips it.

A relayed connection (its remote address has ``/p2p-circuit``) carries the relay's IP, not the
contact's, so the IP rule (checks 1 and 4) applies to direct connections only: a relayed
contact is checked by its key and roster (checks 2 and 3). Before the relay's circuit is
accepted, the peer id the relay names must already be an authorised contact's key (the
relayed counterpart of check 1; Noise then proves it).

Hole punching (DCUtR) turns a relayed connection into a direct one from an address the
contact did not publish (its NAT's mapping). While a contact has a live relayed connection
that this gater saw upgraded, a direct connection authenticated with that contact's key
passes the IP rule (the key is the cryptographic check), and while any such relayed
connection is live, check 1 lets unpublished IPs through to the key check.

Every check runs against one directory snapshot; every rejection is logged with its reason and
kept in :attr:`XmppGater.decisions`. Outbound connections are not policed (we dial with a
pinned peer id).
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from p2pstack.errors import InvalidConfigError, PeerIdError
from p2pstack.host.gater import Gater
from p2pstack.identity import KeyType, PeerId, PublicKey
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.discovery.xmpp.directory import Contact, Directory, Snapshot, same_ip
from p2pstack.protocols.discovery.xmpp.jid import Jid
from p2pstack.protocols.discovery.xmpp.presence import PresencePayloadError, canonical_ip
from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection

logger: Final = logging.getLogger("p2pstack.discovery.xmpp.gater")


class IpRule(enum.StrEnum):
    """How the spec's remote-IP rule is enforced."""

    STRICT = "strict"
    WARN = "warn"
    OFF = "off"


class Reason(enum.StrEnum):
    """Why an inbound connection was refused."""

    IP_NOT_PUBLISHED = "ip-not-published"
    NOT_ED25519 = "not-ed25519"
    UNKNOWN_KEY = "unknown-key"
    WRONG_KEY = "wrong-key"
    NOT_IN_ROSTER = "not-in-roster"
    NO_SUBSCRIPTION = "no-subscription"
    NO_P2P_INFO = "no-p2p-info"
    UNAVAILABLE = "unavailable"
    STALE = "stale"
    WRONG_IP = "wrong-ip"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one check; ``reason`` is None when allowed."""

    stage: str
    allowed: bool
    reason: Reason | None
    detail: str
    remote_ip: str | None
    peer: PeerId | None = None
    jid: Jid | None = None
    relayed: bool = False
    """The connection came through a relay (``remote_ip`` is then None: the IP rule was not
    applied)."""


def is_relayed(addr: Multiaddr) -> bool:
    """Whether ``addr`` is a relayed (``/p2p-circuit``) connection's address."""
    return addr.has_protocol("p2p-circuit")


def remote_ip_of(addr: Multiaddr) -> str | None:
    """The canonical remote IP of a direct transport address; None when it has none, and for
    a relayed address (its IP is the relay's)."""
    if is_relayed(addr):
        return None
    hp = addr.host_port("tcp") or addr.host_port("udp")
    if hp is None:
        return None
    try:
        return canonical_ip(hp[0])
    except PresencePayloadError:
        return None


def ed25519_key_of(peer: PeerId) -> bytes | None:
    """The raw Ed25519 key inlined in ``peer``, None for any other key type."""
    inline = peer.inline_public_key()
    if inline is None:
        return None
    try:
        key = PublicKey.from_protobuf(inline)
    except (PeerIdError, ValueError):
        return None
    if key.key_type != KeyType.ED25519:
        return None
    return key.raw_bytes()


def prefilter(snap: Snapshot, remote_ip: str | None, rule: IpRule) -> Decision:
    """Check 1: is ``remote_ip`` published by any authorised contact?"""
    if rule is not IpRule.STRICT:
        return Decision("accept", True, None, f"IP rule {rule}", remote_ip)
    if remote_ip is not None and any(same_ip(remote_ip, ip) for ip in snap.authorised_ips()):
        return Decision("accept", True, None, "IP published by a contact", remote_ip)
    if not snap.online:
        return Decision(
            "accept",
            False,
            Reason.STALE,
            "our XMPP session is down: no current presence",
            remote_ip,
        )
    for departed in reversed(list(snap.departed.values())):
        if remote_ip is not None and any(same_ip(remote_ip, ip) for ip in departed.ips):
            reason = Reason.STALE if departed.reason == "stale" else Reason.UNAVAILABLE
            return Decision(
                "accept",
                False,
                reason,
                f"{departed.jid} published this IP but is {departed.reason}",
                remote_ip,
                jid=departed.jid,
            )
    return Decision(
        "accept",
        False,
        Reason.IP_NOT_PUBLISHED,
        "no subscribed, available contact published this IP",
        remote_ip,
    )


def _ip_rule(snap: Snapshot, contact: Contact, remote_ip: str | None) -> tuple[bool, str]:
    p2p = contact.p2p
    assert p2p is not None
    own = snap.own_p2p
    if own is not None and same_ip(own.ext_ip, p2p.ext_ip):
        expected, which = p2p.loc_ip, "locIp (same external IP as ours)"
    else:
        expected, which = p2p.ext_ip, "extIp"
    if remote_ip is not None and same_ip(remote_ip, expected):
        return True, f"remote IP is their {which}"
    return False, f"remote IP {remote_ip} is not their published {which} {expected}"


_STAGE_ORDER: Final = {
    Reason.NOT_IN_ROSTER: 0,
    Reason.NO_SUBSCRIPTION: 1,
    Reason.NO_P2P_INFO: 2,
    Reason.WRONG_IP: 3,
}


def authorise(
    snap: Snapshot,
    peer: PeerId,
    remote_ip: str | None,
    rule: IpRule,
    *,
    relayed: bool = False,
    stage: str = "secured",
) -> Decision:
    """Checks 2 to 4 for an inbound connection authenticated as ``peer`` from ``remote_ip``;
    ``relayed``: it came through a relay, so only checks 2 and 3 apply."""

    def deny(reason: Reason, detail: str, jid: Jid | None = None) -> Decision:
        return Decision(stage, False, reason, detail, remote_ip, peer, jid, relayed)

    key = ed25519_key_of(peer)
    if key is None:
        return deny(Reason.NOT_ED25519, "the authenticated identity key is not Ed25519")
    candidates = snap.by_key(key)
    if not candidates:
        departed = snap.departed.get(key)
        if departed is not None:
            reason = Reason.STALE if departed.reason == "stale" else Reason.UNAVAILABLE
            return deny(
                reason, f"{departed.jid} published this key but is {departed.reason}", departed.jid
            )
        if not snap.online:
            return deny(Reason.STALE, "our XMPP session is down: no current presence")
        at_ip = snap.by_ip(remote_ip) if remote_ip is not None else []
        if at_ip:
            jids = ", ".join(sorted(str(c.jid) for c in at_ip))
            return deny(
                Reason.WRONG_KEY, f"the key differs from the one published by {jids}", at_ip[0].jid
            )
        return deny(Reason.UNKNOWN_KEY, "no available contact published this key")
    best: Decision | None = None
    for contact in candidates:
        sub = snap.subscription(contact.jid)
        if sub is None:
            result = deny(
                Reason.NOT_IN_ROSTER, f"{contact.jid.bare} is not in our roster", contact.jid
            )
        elif not snap.is_subscribed(contact.jid):
            result = deny(
                Reason.NO_SUBSCRIPTION,
                f"roster subscription of {contact.jid.bare} is {sub!r}",
                contact.jid,
            )
        elif contact.p2p is None:
            result = deny(
                Reason.NO_P2P_INFO, f"{contact.jid} published no p2p information", contact.jid
            )
        else:
            if relayed:
                ok, detail = True, "relayed: key and roster checked (the IP rule is for direct)"
            elif rule is IpRule.OFF:
                ok, detail = True, "IP rule off"
            else:
                ok, detail = _ip_rule(snap, contact, remote_ip)
            if ok or rule is IpRule.WARN:
                if not ok:
                    logger.warning("IP rule (warn) for %s: %s", contact.jid, detail)
                return Decision(stage, True, None, detail, remote_ip, peer, contact.jid, relayed)
            result = deny(Reason.WRONG_IP, detail, contact.jid)
        assert result.reason is not None
        if best is None or _STAGE_ORDER[result.reason] > _STAGE_ORDER[best.reason or result.reason]:
            best = result
    assert best is not None
    return best


@dataclass(frozen=True, kw_only=True)
class GaterConfig:
    """Policy options of :class:`XmppGater`."""

    ip_rule: IpRule = IpRule.STRICT
    history: int = 256
    """How many decisions :attr:`XmppGater.decisions` keeps."""

    def __post_init__(self) -> None:
        if not isinstance(self.ip_rule, IpRule):
            try:
                object.__setattr__(self, "ip_rule", IpRule(self.ip_rule))
            except ValueError as exc:
                raise InvalidConfigError(f"ip_rule must be strict, warn or off: {exc}") from exc
        if self.history < 1:
            raise InvalidConfigError("history must be positive")


class XmppGater(Gater):
    """A gater admitting inbound connections only from authorised XMPP contacts.

    ``inner`` (optional) is consulted first at every stage.
    """

    def __init__(
        self,
        directory: Directory,
        config: GaterConfig | None = None,
        inner: Gater | None = None,
        on_decision: Callable[[Decision], None] | None = None,
    ) -> None:
        self.directory = directory
        self.config = config or GaterConfig()
        self.inner = inner
        self.on_decision = on_decision
        self.decisions: deque[Decision] = deque(maxlen=self.config.history)
        self._relayed: dict[PeerId, list[Connection]] = {}

    def _record(self, decision: Decision) -> bool:
        self.decisions.append(decision)
        source = "a relay" if decision.relayed else decision.remote_ip
        if decision.allowed:
            logger.info(
                "accepted %s from %s at %s stage: %s",
                decision.jid or "connection",
                source,
                decision.stage,
                decision.detail,
            )
        else:
            logger.warning(
                "rejected inbound connection from %s (peer %s) at %s stage: %s: %s",
                source,
                decision.peer,
                decision.stage,
                decision.reason,
                decision.detail,
            )
        if self.on_decision is not None:
            self.on_decision(decision)
        return decision.allowed

    def allow_dial(self, peer: PeerId | None, addr: Multiaddr) -> bool:
        return self.inner.allow_dial(peer, addr) if self.inner else True

    def allow_upgraded(self, connection: Connection) -> bool:
        if self.inner is not None and not self.inner.allow_upgraded(connection):
            return False
        peer = connection.peer_id
        if is_relayed(connection.remote_addr) and self._is_contact(peer):
            self._prune()  # a hole punch may upgrade it to a direct connection
            self._relayed.setdefault(peer, []).append(connection)
        return True

    def _is_contact(self, peer: PeerId) -> bool:
        snap = self.directory.snapshot
        return authorise(snap, peer, None, self.config.ip_rule, relayed=True).allowed

    def _prune(self) -> None:
        for peer, conns in list(self._relayed.items()):
            live = [c for c in conns if not c.is_closed]
            if live:
                self._relayed[peer] = live
            else:
                del self._relayed[peer]

    def relayed_peers(self) -> frozenset[PeerId]:
        """The authorised contacts with a live relayed connection (hole punch candidates)."""
        self._prune()
        return frozenset(self._relayed)

    def allow_relayed_accept(self, relay: PeerId, source: PeerId) -> bool:
        if self.inner is not None and not self.inner.allow_relayed_accept(relay, source):
            return False
        decision = authorise(
            self.directory.snapshot,
            source,
            None,
            self.config.ip_rule,
            relayed=True,
            stage="relayed-accept",
        )
        if decision.allowed:
            return True  # the secured stage records the outcome once Noise proved the key
        return self._record(decision)

    def allow_accept(self, remote_addr: Multiaddr) -> bool:
        if self.inner is not None and not self.inner.allow_accept(remote_addr):
            return False
        if is_relayed(remote_addr):
            return True  # the IP is the relay's; relayed-accept checked the named peer
        snap = self.directory.snapshot
        decision = prefilter(snap, remote_ip_of(remote_addr), self.config.ip_rule)
        if decision.allowed:
            return True  # the secured stage records the outcome
        if self.relayed_peers():
            return True  # a hole punch may be arriving from an unpublished IP: the key decides
        return self._record(decision)

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        if self.inner is not None and not self.inner.allow_secured(peer, remote_addr, role):
            return False
        if role is Role.INITIATOR:  # we dialled: the contact check is for inbound connections
            return True
        snap = self.directory.snapshot
        remote_ip = remote_ip_of(remote_addr)
        decision = authorise(
            snap, peer, remote_ip, self.config.ip_rule, relayed=is_relayed(remote_addr)
        )
        if decision.reason is Reason.WRONG_IP and peer in self.relayed_peers():
            by_key = authorise(snap, peer, None, self.config.ip_rule, relayed=True)
            if by_key.allowed:
                decision = replace(
                    by_key,
                    remote_ip=remote_ip,
                    relayed=False,
                    detail="direct connection of a contact connected through a relay "
                    "(hole punch): key and roster checked",
                )
        return self._record(decision)
