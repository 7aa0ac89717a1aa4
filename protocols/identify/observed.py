"""Our addresses as others observe them (pure, time passed in).

Identify tells us the address each peer sees our connection come from. One peer can lie
or sit behind the same NAT as us, so an observed address is *confirmed* only when
``threshold`` distinct observer groups reported it within ``ttl`` seconds, as go-libp2p's
observed-address manager does: a group is the observer's IPv4 address or its IPv6 /56,
and one peer counts once however many connections it has.

What is recorded is what a dialler would use: for a connection that arrived on (or left
from) one of our listen addresses, the observed address itself; for an outbound
connection from an ephemeral port, the observed IP with our listen port of the same
transport (right for port-preserving NATs; AutoNAT then tests it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from p2pstack.errors import MultiaddrError
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr

MAX_TRACKED = 128
"""Distinct observed addresses kept (the oldest are dropped first)."""
MAX_GROUPS = 64
"""Observer groups kept per address (the oldest are dropped first)."""


def observer_group(addr: Multiaddr) -> str | None:
    """The observer group of an observer's address (IPv4 address, IPv6 /56), or None."""
    components = addr.components()
    if not components or components[0].name not in ("ip4", "ip6") or not components[0].value:
        return None
    ip = ipaddress.ip_address(components[0].value)
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 56), strict=False))
    return str(ip)


def thin_waist(
    observed: Multiaddr, local: Multiaddr | None, listen: list[Multiaddr]
) -> Multiaddr | None:
    """What an observation means for dialling us (see the module docstring), or None."""
    obs = observed.components()
    if len(obs) < 2 or obs[0].name not in ("ip4", "ip6"):
        return None
    if local is not None and local.without_peer_id() in listen:
        return observed.without_peer_id()
    for addr in listen:
        own = addr.components()
        if len(own) >= 2 and own[0].name == obs[0].name and own[1:] and own[1].name == obs[1].name:
            try:
                return Multiaddr.from_components((obs[0], *own[1:]))
            except MultiaddrError:
                return None
    return None


@dataclass
class ObservedAddrs:
    """The observations and which of them are confirmed (see the module docstring)."""

    threshold: int = 4
    ttl: float = 1800.0
    _seen: dict[Multiaddr, dict[str, tuple[PeerId, float]]] = field(default_factory=dict)

    def record(
        self,
        *,
        observed: Multiaddr,
        observer: PeerId,
        observer_addr: Multiaddr,
        local_addr: Multiaddr | None,
        listen_addrs: list[Multiaddr],
        now: float,
    ) -> Multiaddr | None:
        """Record one peer's observation; returns the address it counts for, if any."""
        group = observer_group(observer_addr)
        addr = thin_waist(observed, local_addr, listen_addrs)
        if group is None or addr is None:
            return None
        groups = self._seen.setdefault(addr, {})
        for other, (peer, _) in list(groups.items()):
            if peer == observer and other != group:
                del groups[other]  # one peer counts once
        groups[group] = (observer, now)
        if len(groups) > MAX_GROUPS:
            del groups[min(groups, key=lambda g: groups[g][1])]
        if len(self._seen) > MAX_TRACKED:
            oldest = min(self._seen, key=lambda a: max(t for _, t in self._seen[a].values()))
            del self._seen[oldest]
        return addr

    def count(self, addr: Multiaddr, now: float) -> int:
        """Distinct fresh observer groups that reported ``addr``."""
        return sum(1 for _, at in self._seen.get(addr, {}).values() if at > now - self.ttl)

    def confirmed(self, now: float) -> list[Multiaddr]:
        """The addresses at least ``threshold`` observer groups reported within ``ttl``."""
        return [a for a in self._seen if self.count(a, now) >= self.threshold]
