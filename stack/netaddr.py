"""Host address helpers: expanding wildcard listen addresses to the host's interfaces."""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from pathlib import Path
from typing import Final

from p2pstack.multiaddr import Multiaddr

_SIOCGIFADDR: Final = 0x8915


def interface_ips(version: int) -> list[str]:
    """The addresses configured on this host's interfaces (Linux), loopback first."""
    found: list[str] = []
    if version == 4:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _, name in socket.if_nameindex():
                request = struct.pack("256s", name.encode()[:15])
                try:
                    reply = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, request)
                except OSError:
                    continue
                found.append(socket.inet_ntoa(reply[20:24]))
    else:
        path = Path("/proc/net/if_inet6")
        if path.exists():
            for line in path.read_text().splitlines():
                raw = line.split()[0]
                ip = ipaddress.IPv6Address(bytes.fromhex(raw))
                if not ip.is_link_local:
                    found.append(str(ip))
    loopback = "127.0.0.1" if version == 4 else "::1"
    ordered = sorted(set(found), key=lambda ip: (ip != loopback, ip))
    return ordered or [loopback]


def expand_wildcard(addr: Multiaddr) -> list[Multiaddr]:
    """Replace a ``0.0.0.0`` / ``::`` host in ``addr`` by each interface address."""
    parts = addr.components()
    if not parts or parts[0].name not in ("ip4", "ip6"):
        return [addr]
    host = parts[0].value
    if host not in ("0.0.0.0", "::"):
        return [addr]
    rest = str(addr)[len(f"/{parts[0].name}/{host}") :]
    version = 4 if parts[0].name == "ip4" else 6
    return [Multiaddr(f"/{parts[0].name}/{ip}{rest}") for ip in interface_ips(version)]
