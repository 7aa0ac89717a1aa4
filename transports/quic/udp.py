"""A non-blocking UDP socket for trio that reads datagrams in batches.

Reading every datagram already queued before the QUIC driver runs lets one flush answer
(acknowledge) many packets; trio's socket wrapper yields to the scheduler on every call.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Final

import trio

logger: Final = logging.getLogger("p2pstack.quic")

Address = tuple[str, int]
MAX_DATAGRAM: Final = 65536
BATCH: Final = 64
"""Datagrams read at most per wakeup."""


class UdpSocket:
    """A UDP socket; :meth:`close` wakes a task blocked in :meth:`receive_batch` with
    ``trio.ClosedResourceError``."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._closed = False

    @classmethod
    def bind(cls, host: str, port: int) -> UdpSocket:
        """A socket bound to ``(host, port)``. Raises OSError."""
        return cls(_socket_for(host, lambda sock: sock.bind((host, port))))

    @classmethod
    def connected(cls, host: str, port: int) -> UdpSocket:
        """A socket connected to ``(host, port)`` (only its datagrams arrive). Raises OSError."""
        return cls(_socket_for(host, lambda sock: sock.connect((host, port))))

    def getsockname(self) -> tuple[object, ...]:
        return tuple(self._sock.getsockname())

    @property
    def closed(self) -> bool:
        return self._closed

    async def receive_batch(self) -> list[tuple[bytes, Address]]:
        """Wait for datagrams; return those queued (at least one, at most :data:`BATCH`).

        Raises trio.ClosedResourceError once closed. Errors the kernel reports on a read
        (ICMP unreachable on a connected socket) are logged and skipped.
        """
        while True:
            if self._closed:
                raise trio.ClosedResourceError("the UDP socket is closed")
            await trio.lowlevel.wait_readable(self._sock)
            batch: list[tuple[bytes, Address]] = []
            while len(batch) < BATCH:
                try:
                    data, addr = self._sock.recvfrom(MAX_DATAGRAM)
                except BlockingIOError:
                    break
                except OSError as exc:
                    if self._closed:
                        raise trio.ClosedResourceError("the UDP socket is closed") from exc
                    logger.debug("UDP read error: %s", exc)
                    continue
                batch.append((data, (str(addr[0]), int(addr[1]))))
            if batch:
                return batch

    async def send(self, data: bytes, addr: Address | None = None) -> None:
        """Send one datagram (to ``addr``, or to the connected peer). Raises OSError and
        trio.ClosedResourceError."""
        while True:
            if self._closed:
                raise trio.ClosedResourceError("the UDP socket is closed")
            try:
                if addr is None:
                    self._sock.send(data)
                else:
                    self._sock.sendto(data, addr)
                return
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self._sock)

    def try_send(self, data: bytes, addr: Address) -> bool:
        """Send one datagram now if the socket takes it; False if it did not (full buffer,
        an error, closed). For best-effort stateless replies."""
        if self._closed:
            return False
        try:
            self._sock.sendto(data, addr)
        except OSError as exc:  # BlockingIOError included
            logger.debug("UDP send to %s failed: %s", addr, exc)
            return False
        return True

    def close(self) -> None:
        """Close (idempotent); wakes the tasks waiting on it."""
        if not self._closed:
            self._closed = True
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()


def _socket_for(host: str, setup: Callable[[socket.socket], None]) -> socket.socket:
    """A UDP socket of ``host``'s address family after ``setup`` (closed if it raises)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        setup(sock)
    except BaseException:
        sock.close()
        raise
    return sock
