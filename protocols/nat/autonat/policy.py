"""What an AutoNAT server agrees to dial, and how often (pure, time passed in).

The rules (both protocol versions):

- never over a limited (relayed) connection: the requester's IP is unknown there;
- only ``/ip4`` or ``/ip6`` addresses over a transport we can dial, never ``/p2p-circuit``;
- never a private, loopback, link-local or otherwise non-global IP unless
  ``allow_private_addrs`` (tests on loopback, labs);
- v1 dials only addresses on the requester's observed IP; v2 may dial another IP only after
  the requester paid the amplification cost (``DialDataRequest``).
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IP_PROTOCOLS: Final = ("ip4", "ip6")


def ip_of(addr: Multiaddr) -> IPAddress | None:
    """The IP an address starts with (``/ip4``/``/ip6``), else None (DNS, relay, memory)."""
    components = addr.components()
    if not components or components[0].name not in _IP_PROTOCOLS:
        return None
    value = components[0].value
    if value is None:
        return None
    ip = ipaddress.ip_address(value)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(ip: IPAddress) -> bool:
    """Globally routable (not private, loopback, link-local, CGNAT, documentation...)."""
    return ip.is_global and not ip.is_multicast


def same_ip(a: Multiaddr, b: Multiaddr) -> bool:
    """Whether both addresses start with the same IP."""
    ip = ip_of(a)
    return ip is not None and ip == ip_of(b)


def ip_versions(addrs: Iterable[Multiaddr]) -> frozenset[int]:
    """The IP versions (4, 6) among ``addrs`` (our listen addresses: what we can dial from)."""
    return frozenset(ip.version for ip in map(ip_of, addrs) if ip is not None)


def refusal(
    addr: Multiaddr,
    *,
    allow_private: bool,
    can_dial: Callable[[Multiaddr], bool],
    versions: frozenset[int] | None = None,
) -> str | None:
    """Why a server will not dial ``addr`` at all, or None when it may. ``versions``: the
    IP versions the server has addresses of (None: any); the spec has a server refuse an
    IPv6 address when it has none (it cannot tell an IPv6 failure from the requester's), and
    IPv4 likewise."""
    if addr.has_protocol("p2p-circuit"):
        return "a relayed address"
    ip = ip_of(addr)
    if ip is None:
        return "not an IP address"
    if versions is not None and ip.version not in versions:
        return f"we have no IPv{ip.version} address"
    if not allow_private and not is_public(ip):
        return f"{ip} is not a public address"
    if not can_dial(addr):
        return "no transport dials it"
    return None


def candidate_ok(addr: Multiaddr, *, allow_private: bool) -> bool:
    """Whether a client should ask servers to test ``addr`` (an IP address, public unless
    ``allow_private``, not relayed)."""
    if addr.has_protocol("p2p-circuit"):
        return False
    ip = ip_of(addr)
    return ip is not None and (allow_private or is_public(ip))


@dataclass
class RequestLimiter:
    """Requests accepted per peer and in total within a sliding ``window`` (seconds), and
    dial-backs in flight. Pure: the caller passes ``now``."""

    per_peer: int
    total: int
    window: float
    max_in_flight: int
    _all: deque[float] = field(default_factory=deque)
    _peers: dict[PeerId, deque[float]] = field(default_factory=dict)
    in_flight: int = 0

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self._all and self._all[0] <= horizon:
            self._all.popleft()
        for peer in [p for p, times in self._peers.items() if not times or times[-1] <= horizon]:
            del self._peers[peer]
        for times in self._peers.values():
            while times and times[0] <= horizon:
                times.popleft()

    def admit(self, peer: PeerId, now: float) -> str | None:
        """Count a request from ``peer`` and take an in-flight slot; or say which limit
        refuses it (nothing is counted then). Call :meth:`done` when an admitted one ends."""
        self._expire(now)
        if self.in_flight >= self.max_in_flight:
            return "too many dial-backs in flight"
        if len(self._all) >= self.total:
            return "global request rate"
        times = self._peers.setdefault(peer, deque())
        if len(times) >= self.per_peer:
            return "per-peer request rate"
        times.append(now)
        self._all.append(now)
        self.in_flight += 1
        return None

    def done(self) -> None:
        """An admitted request finished."""
        self.in_flight = max(0, self.in_flight - 1)
