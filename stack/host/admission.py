"""Fair admission of inbound connections before they are authenticated.

A flood of connections that never finish their handshake must not lock honest peers out.
Pending (not yet authenticated) inbound connections are limited globally, per IP and per
subnet (/24 for IPv4, /56 for IPv6 by default), and so are a single IP's connections
altogether. When the global budget is full, a newcomer from a less busy IP evicts the
oldest pending connection of the IP (then the subnet) holding the most, so an attacker that
fills the budget cannot starve new addresses. Allowlisted networks always get a slot.

:class:`Admission` is plain bookkeeping (no I/O); each admitted connection gets a
:class:`Ticket` whose ``cancel_scope`` the upgrade runs in, so eviction cancels it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

import trio

from p2pstack.errors import InvalidConfigError, LimitExceeded
from p2pstack.multiaddr import Multiaddr

logger: Final = logging.getLogger("p2pstack.admission")

_K = TypeVar("_K")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, kw_only=True, slots=True)
class AdmissionLimits:
    """Per-address limits on inbound connections (``None``: no limit).

    The global cap on pending inbound connections is
    ``ConnectionLimits.max_pending_inbound``.

    Attributes:
        pending_per_ip: handshakes in progress from one IP address.
        pending_per_subnet: handshakes in progress from one subnet (see ``subnet_v4`` /
            ``subnet_v6``).
        subnet_v4: prefix length of the IPv4 subnets counted together.
        subnet_v6: prefix length of the IPv6 subnets counted together.
        conns_per_ip: inbound connections (pending and established) from one IP address.
        allow: networks (CIDR, e.g. ``"10.0.0.0/8"``, ``"::1/128"``) whose connections are exempt
            from these limits and from the global pending cap (go-libp2p's allowlist).
    """

    pending_per_ip: int | None = 8
    pending_per_subnet: int | None = 16
    subnet_v4: int = 24
    subnet_v6: int = 56
    conns_per_ip: int | None = 64
    allow: tuple[str, ...] = ()
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("pending_per_ip", "pending_per_subnet", "conns_per_ip"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidConfigError(f"AdmissionLimits.{name} must be at least 1 or None")
        if not 8 <= self.subnet_v4 <= 32 or not 16 <= self.subnet_v6 <= 128:
            raise InvalidConfigError("subnet_v4 must be in [8, 32] and subnet_v6 in [16, 128]")
        try:
            networks = tuple(ipaddress.ip_network(n, strict=False) for n in self.allow)
        except ValueError as exc:
            raise InvalidConfigError(f"AdmissionLimits.allow: {exc}") from exc
        object.__setattr__(self, "_networks", networks)

    def allowlisted(self, ip: IPAddress | None) -> bool:
        """Whether ``ip`` is in an allowlisted network."""
        return ip is not None and any(ip in net for net in self._networks)

    def subnet_of(self, ip: IPAddress) -> IPNetwork:
        """The subnet ``ip`` is counted in."""
        bits = self.subnet_v4 if ip.version == 4 else self.subnet_v6
        return ipaddress.ip_network(f"{ip}/{bits}", strict=False)


def ip_of(addr: Multiaddr | None) -> IPAddress | None:
    """The IP address at the head of ``addr`` (None for other addresses: relay, memory)."""
    if addr is None:
        return None
    parts = addr.components()
    if not parts or parts[0].name not in ("ip4", "ip6") or parts[0].value is None:
        return None
    try:
        return ipaddress.ip_address(parts[0].value.split("%", 1)[0])
    except ValueError:
        return None


@dataclass(eq=False)
class Ticket:
    """One admitted inbound connection. Run its upgrade inside ``cancel_scope``; call
    :meth:`established` once authenticated and :meth:`done` when it ends (idempotent)."""

    admission: Admission
    ip: IPAddress | None
    subnet: IPNetwork | None
    allowlisted: bool
    admitted_at: float
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    pending: bool = True
    closed: bool = False
    evicted: bool = False
    on_evict: Callable[[], None] | None = None
    """Called when the ticket is evicted (the node releases the connection's resources at
    once, before its cancelled upgrade has finished unwinding)."""

    @property
    def address_key(self) -> str | None:
        """The address its memory is accounted under: the IP (an IPv6 /64), or None."""
        if self.ip is None:
            return None
        if self.ip.version == 6:
            return str(ipaddress.ip_network(f"{self.ip}/64", strict=False))
        return str(self.ip)

    def established(self) -> None:
        """The connection authenticated: it no longer counts as pending."""
        if self.pending and not self.closed:
            self.admission.unpend(self)

    def done(self) -> None:
        """The connection ended (or failed)."""
        if not self.closed:
            self.admission.release(self)


class Admission:
    """Bookkeeping of inbound connections by IP and subnet."""

    def __init__(self, limits: AdmissionLimits, *, max_pending: int | None) -> None:
        self.limits = limits
        self.max_pending = max_pending
        self._pending: list[Ticket] = []  # oldest first
        self._pending_ip: Counter[IPAddress | None] = Counter()
        self._pending_subnet: Counter[IPNetwork | None] = Counter()
        self._conns_ip: Counter[IPAddress | None] = Counter()
        self.evictions = 0

    @property
    def pending(self) -> int:
        """Inbound connections in their handshake (allowlisted ones included)."""
        return len(self._pending)

    def admit(self, remote: Multiaddr | None, now: float) -> Ticket:
        """Admit a new inbound connection from ``remote``, evicting if that is fair.

        Raises:
            LimitExceeded: a per-IP or per-subnet limit, or the global pending cap with no
                busier address to evict from.
        """
        limits = self.limits
        ip = ip_of(remote)
        subnet = limits.subnet_of(ip) if ip is not None else None
        if limits.allowlisted(ip):
            return self._add(Ticket(self, ip, subnet, True, now))
        what = f"inbound connection from {remote}"
        if ip is not None:
            if limits.conns_per_ip is not None and self._conns_ip[ip] >= limits.conns_per_ip:
                self._refuse(what, "connections.per_ip", limits.conns_per_ip)
            if limits.pending_per_ip is not None and self._pending_ip[ip] >= limits.pending_per_ip:
                self._refuse(what, "pending.per_ip", limits.pending_per_ip)
            cap = limits.pending_per_subnet
            if cap is not None and self._pending_subnet[subnet] >= cap:
                self._refuse(what, "pending.per_subnet", cap)
        if self.max_pending is not None and self._counted_pending() >= self.max_pending:
            victim = self._victim(ip, subnet)
            if victim is None:
                self._refuse(what, "pending.inbound", self.max_pending)
            else:
                logger.info("evicting a pending connection from %s to admit %s", victim.ip, remote)
                self.evictions += 1
                victim.evicted = True
                victim.cancel_scope.cancel()
                self.unpend(victim)
                if victim.on_evict is not None:
                    victim.on_evict()
        return self._add(Ticket(self, ip, subnet, False, now))

    def _counted_pending(self) -> int:
        return sum(1 for t in self._pending if not t.allowlisted)

    def _victim(self, ip: IPAddress | None, subnet: IPNetwork | None) -> Ticket | None:
        """The oldest pending ticket of the busiest IP (then subnet), if it is busier than
        the newcomer's."""
        candidates = [t for t in self._pending if not t.allowlisted and not t.evicted]
        if not candidates:
            return None
        busiest_ip = max(self._pending_ip.items(), key=lambda kv: kv[1], default=(None, 0))
        if busiest_ip[1] > self._pending_ip[ip] + 1:
            return next(t for t in candidates if t.ip == busiest_ip[0])
        busiest_net = max(self._pending_subnet.items(), key=lambda kv: kv[1], default=(None, 0))
        if busiest_net[1] > self._pending_subnet[subnet] + 1:
            return next(t for t in candidates if t.subnet == busiest_net[0])
        return None

    def _refuse(self, what: str, limit: str, value: int) -> None:
        raise LimitExceeded(f"{what}: local limit {limit}={value} reached", limit=limit)

    def _add(self, ticket: Ticket) -> Ticket:
        self._pending.append(ticket)
        if not ticket.allowlisted:
            self._pending_ip[ticket.ip] += 1
            self._pending_subnet[ticket.subnet] += 1
            self._conns_ip[ticket.ip] += 1
        return ticket

    def unpend(self, ticket: Ticket) -> None:
        """``ticket`` no longer counts as pending (its :meth:`Ticket.established` calls this)."""
        if not ticket.pending:
            return
        ticket.pending = False
        self._pending.remove(ticket)
        if not ticket.allowlisted:
            _decrement(self._pending_ip, ticket.ip)
            _decrement(self._pending_subnet, ticket.subnet)

    def release(self, ticket: Ticket) -> None:
        """``ticket``'s connection ended (its :meth:`Ticket.done` calls this)."""
        self.unpend(ticket)
        ticket.closed = True
        if not ticket.allowlisted:
            _decrement(self._conns_ip, ticket.ip)


def _decrement(counter: Counter[_K], key: _K) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]
