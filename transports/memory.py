"""An in-process transport for tests and benchmarks: ``/memory/<id>`` addresses.

Nodes sharing one :class:`MemoryNetwork` reach each other without sockets; each dial yields a
``trio.testing.memory_stream_pair`` half, which is a half-closeable stream.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import final

import trio
import trio.testing

from p2pstack.abc.transport import RawConnection, TransportListener
from p2pstack.arguments import instance_arg
from p2pstack.errors import TransportError
from p2pstack.multiaddr import Multiaddr


@dataclass
class MemoryNetwork:
    """A namespace of memory listeners. Share one between the nodes of a test."""

    _listeners: dict[int, MemoryListener] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _dialer_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1 << 32))

    def listener(self, ident: int) -> MemoryListener | None:
        """The listener on ``/memory/<ident>``, if any."""
        return self._listeners.get(ident)

    def bind(self, ident: int, addr: Multiaddr) -> MemoryListener:
        """A new listener on ``ident`` (0: a free id) for ``addr``; TransportError if taken."""
        if ident == 0:
            ident = next(self._ids)
        if ident in self._listeners:
            raise TransportError(f"{addr} is already in use")
        listener = self._listeners[ident] = MemoryListener(self, ident)
        return listener

    def unbind(self, ident: int) -> None:
        """Forget the listener on ``ident`` (it closed)."""
        self._listeners.pop(ident, None)

    def dialer_addr(self) -> Multiaddr:
        """A fresh address for the dialling end of a connection."""
        return Multiaddr(f"/memory/{next(self._dialer_ids)}")


_DEFAULT_NETWORK = MemoryNetwork()


def _memory_id(addr: Multiaddr) -> int | None:
    parts = addr.without_peer_id().components()
    if len(parts) != 1 or parts[0].name != "memory" or parts[0].value is None:
        return None
    return int(parts[0].value)


@final
class MemoryListener:
    """A listener on one ``/memory/<id>`` address."""

    def __init__(self, network: MemoryNetwork, ident: int) -> None:
        self._network = network
        self._id = ident
        self._send, self._receive = trio.open_memory_channel[RawConnection](64)

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        return [Multiaddr(f"/memory/{self._id}")]

    async def accept(self) -> RawConnection:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise trio.ClosedResourceError("memory listener closed") from exc

    async def connect(self, remote: Multiaddr) -> trio.abc.Stream:
        left, right = trio.testing.memory_stream_pair()
        try:
            self._send.send_nowait(RawConnection(right, self.listen_addrs[0], remote))
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError) as exc:
            raise TransportError(f"memory listener {self._id} refused the connection") from exc
        await trio.lowlevel.checkpoint()
        return left

    async def aclose(self) -> None:
        self._network.unbind(self._id)
        await self._send.aclose()
        await self._receive.aclose()


@final
class MemoryTransport:
    """Dials and listens on ``/memory/<id>``; ``/memory/0`` picks a free id."""

    name = "memory"

    def __init__(self, network: MemoryNetwork) -> None:
        self.network = network

    def can_dial(self, addr: Multiaddr) -> bool:
        return _memory_id(addr) is not None

    def can_listen(self, addr: Multiaddr) -> bool:
        return _memory_id(addr) is not None

    async def dial(self, addr: Multiaddr) -> RawConnection:
        ident = _memory_id(addr)
        listener = self.network.listener(ident) if ident is not None else None
        if listener is None:
            raise TransportError(f"nothing listens on {addr}")
        local = self.network.dialer_addr()
        stream = await listener.connect(local)
        return RawConnection(stream, local, listener.listen_addrs[0])

    async def listen(self, addr: Multiaddr) -> TransportListener:
        ident = _memory_id(addr)
        if ident is None:
            raise TransportError(f"not a memory address: {addr}")
        listener = self.network.bind(ident, addr)
        await trio.lowlevel.checkpoint()
        return listener


def memory(network: MemoryNetwork | None = None) -> MemoryTransport:
    """Build a memory transport on ``network`` (a process-wide default if omitted)."""
    if network is not None:
        instance_arg(network, MemoryNetwork, "memory(network)")
    return MemoryTransport(network or _DEFAULT_NETWORK)
