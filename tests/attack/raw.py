"""Attacker primitives on raw sockets (loopback only): connect+RST, silent and partial
connections that come back as soon as the victim drops them.

Every loop is bounded by a count or by the caller's cancel scope, and closes what it opened.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable
from typing import Final

import trio

from p2pstack.varint import encode_uvarint

from .sources import ATTACKER_SOURCE

MULTISTREAM_HEADER: Final = encode_uvarint(len(b"/multistream/1.0.0\n")) + b"/multistream/1.0.0\n"
"""What a dialer sends first: the varint length (19) and ``/multistream/1.0.0\\n``."""
PARTIAL_HEADER: Final = MULTISTREAM_HEADER[:17]
"""17 bytes of that header: the length promises more, the rest never comes."""

_LINGER_RST: Final = struct.pack("ii", 1, 0)
_REFUSED: Final = (errno.ECONNREFUSED, errno.ECONNRESET, errno.EAGAIN, errno.EADDRNOTAVAIL)


def _check_loopback(host: str) -> None:
    if host not in ("127.0.0.1", "::1"):
        raise AssertionError(f"attacks target loopback only, not {host}")


def connect_rst_burst(host: str, port: int, count: int) -> int:
    """Connect ``count`` times and reset each connection at once (SO_LINGER 0), before the
    victim's accept loop can run; returns how many connects succeeded.

    Blocking connects to loopback complete in the kernel (the connection then waits in the
    listen backlog), so the victim later accepts a socket whose peer is already gone.
    """
    _check_loopback(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    done = 0
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            sock.connect((host, port))
            done += 1
        except OSError as exc:
            if exc.errno not in _REFUSED:
                raise
        finally:
            sock.close()
    return done


async def connect_rst_loop(host: str, port: int, *, total: int, burst: int = 50) -> int:
    """:func:`connect_rst_burst` in bursts of ``burst`` (yielding to trio between them)
    until ``total`` connects were tried; returns how many succeeded."""
    done = 0
    for start in range(0, total, burst):
        done += connect_rst_burst(host, port, min(burst, total - start))
        await trio.lowlevel.checkpoint()
    return done


class HeldConnections:
    """Counters of a flood of held connections."""

    def __init__(self) -> None:
        self.opened = 0
        self.dropped_by_victim = 0
        self.connect_failures = 0
        self.live = 0
        self.established = trio.Event()


async def hold_connections(
    host: str,
    port: int,
    *,
    count: int,
    first_bytes: bytes = b"",
    stats: HeldConnections,
    source: Callable[[int], str] = lambda index: ATTACKER_SOURCE,
    reconnect_delay: float = 0.0,
) -> None:
    """Keep ``count`` connections open that send ``first_bytes`` (maybe nothing) and then
    never another byte; reopen each as soon as the victim closes it. Slot ``i`` connects from
    ``source(i)`` (default: every slot from the attacker's one address). Runs until cancelled;
    sets ``stats.established`` once every slot connected at least once (or failed to)."""
    _check_loopback(host)
    first_round = [count]

    def slot_ready() -> None:
        first_round[0] -= 1
        if first_round[0] == 0:
            stats.established.set()

    async def slot(index: int) -> None:
        ready = False
        local = source(index)
        while True:
            try:
                sock = await trio.open_tcp_stream(host, port, local_address=local)
            except OSError:
                stats.connect_failures += 1
                if not ready:
                    ready = True
                    slot_ready()
                await trio.sleep(max(reconnect_delay, 0.05))
                continue
            stats.opened += 1
            stats.live += 1
            if not ready:
                ready = True
                slot_ready()
            try:
                if first_bytes:
                    await sock.send_all(first_bytes)
                while await sock.receive_some(65536):  # whatever it says, until it hangs up
                    pass
                stats.dropped_by_victim += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                stats.dropped_by_victim += 1
            finally:
                stats.live -= 1
                await trio.aclose_forcefully(sock)
            if reconnect_delay:
                await trio.sleep(reconnect_delay)

    async with trio.open_nursery() as nursery:
        for index in range(count):
            nursery.start_soon(slot, index)
            await trio.lowlevel.checkpoint()
