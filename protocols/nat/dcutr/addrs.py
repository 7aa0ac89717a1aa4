"""Which addresses a hole punch sends and dials (pure, no I/O).

Only plain TCP addresses are punched (``/ip4|ip6/<ip>/tcp/<port>``, an optional ``/p2p/<id>``):
no relay circuit, no WebSocket, no name, no wildcard or port 0; and only public IPs unless
private ones are allowed (tests on one machine). A direct dial before the exchange (the
spec's unilateral upgrade) takes any transport over a public IP (:func:`direct`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from p2pstack.multiaddr import Multiaddr


def punchable(addr: Multiaddr, *, allow_private: bool = False) -> bool:
    """Whether ``addr`` is a TCP address a simultaneous open can use."""
    parts = addr.without_peer_id().components()
    if len(parts) != 2 or parts[0].name not in ("ip4", "ip6") or parts[1].name != "tcp":
        return False
    if parts[1].value in (None, "0") or parts[0].value is None:
        return False
    ip = ipaddress.ip_address(parts[0].value.split("%", 1)[0])
    if ip.is_unspecified or ip.is_multicast:
        return False
    return allow_private or ip.is_global


def select(
    candidates: Iterable[Multiaddr], *, allow_private: bool = False, limit: int
) -> list[Multiaddr]:
    """The punchable ones of ``candidates`` without ``/p2p``, in order, deduplicated, at most
    ``limit``."""
    out: list[Multiaddr] = []
    for addr in candidates:
        bare = addr.without_peer_id()
        if bare not in out and punchable(bare, allow_private=allow_private):
            out.append(bare)
            if len(out) >= limit:
                break
    return out


def observed(counts: dict[str, int]) -> list[Multiaddr]:
    """Addresses peers observed (identify's ``observed_addrs``: text -> reports), most
    reported first; unparseable entries are skipped."""
    out: list[Multiaddr] = []
    for text, _ in sorted(counts.items(), key=lambda item: -item[1]):
        try:
            out.append(Multiaddr(text))
        except ValueError:
            continue
    return out


def direct(
    candidates: Iterable[Multiaddr], *, allow_private: bool = False, limit: int
) -> list[Multiaddr]:
    """The addresses of ``candidates`` worth a plain direct dial: an IP address (public unless
    ``allow_private``), no relay circuit; deduplicated, in order, at most ``limit``."""
    out: list[Multiaddr] = []
    for addr in candidates:
        parts = addr.components()
        if not parts or parts[0].name not in ("ip4", "ip6") or parts[0].value is None:
            continue
        if any(part.name == "p2p-circuit" for part in parts) or addr in out:
            continue
        ip = ipaddress.ip_address(parts[0].value.split("%", 1)[0])
        if ip.is_unspecified or ip.is_multicast or not (allow_private or ip.is_global):
            continue
        out.append(addr)
        if len(out) >= limit:
            break
    return out
