"""Source addresses on loopback: the attacker and the honest peer come from different ones.

Linux routes all of 127.0.0.0/8 to ``lo``, so binding a socket to 127.x.y.z before connecting
gives a connection from that address without any set-up. The honest peer dials from
:data:`HONEST_SOURCE`, outside the attacker's /16, so per-IP and per-subnet admission can tell
them apart as they would on a real network.
"""

from __future__ import annotations

import socket
from typing import Final, final

import trio

from p2pstack.abc.transport import RawConnection, TransportListener
from p2pstack.errors import TransportError
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.tcp import sockaddr_to_multiaddr
from p2pstack.transports.tcp_stream import TcpStream

ATTACKER_SOURCE: Final = "127.0.0.1"
HONEST_SOURCE: Final = "127.77.0.1"


def subnet_source(index: int) -> str:
    """The ``index``-th of many attacker addresses, spread over 127.0.0.0/16 (/24 by /24)."""
    return f"127.0.{index // 250}.{index % 250 + 2}"


@final
class SourceBoundTcp:
    """A dial-only TCP transport whose connections leave from ``source``."""

    name = "tcp"

    def __init__(self, source: str) -> None:
        self.source = source

    def can_dial(self, addr: Multiaddr) -> bool:
        parts = addr.without_peer_id().components()
        return len(parts) == 2 and parts[0].name == "ip4" and parts[1].name == "tcp"

    def can_listen(self, addr: Multiaddr) -> bool:
        return False

    async def dial(self, addr: Multiaddr) -> RawConnection:
        host, port = (c.value for c in addr.without_peer_id().components())
        assert host is not None
        assert port is not None
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            await sock.bind((self.source, 0))
            await sock.connect((host, int(port)))
        except OSError as exc:
            sock.close()
            raise TransportError(f"TCP connect from {self.source} to {addr} failed") from exc
        except BaseException:
            sock.close()
            raise
        stream = TcpStream(socket.socket(fileno=sock.detach()))
        local = sockaddr_to_multiaddr(stream.socket.getsockname())
        remote = sockaddr_to_multiaddr(stream.socket.getpeername())
        return RawConnection(stream, local, remote)

    async def listen(self, addr: Multiaddr) -> TransportListener:
        raise TransportError("SourceBoundTcp only dials")
