"""A QUIC transport whose listeners a test can inspect (their counters and slots)."""

from __future__ import annotations

from p2pstack.abc.transport import RawConnection
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.quic.endpoint import QuicListener
from p2pstack.transports.quic.transport import HasIdentity, QuicTransport


class RecordingQuic:
    """A QUIC transport whose listeners the test can count."""

    name = "quic-v1"

    def __init__(self, inner: QuicTransport) -> None:
        self.inner = inner
        self.listeners: list[QuicListener] = []

    def attach(self, context: HasIdentity) -> None:
        self.inner.attach(context)

    def can_dial(self, addr: Multiaddr) -> bool:
        return self.inner.can_dial(addr)

    def can_listen(self, addr: Multiaddr) -> bool:
        return self.inner.can_listen(addr)

    async def dial(self, addr: Multiaddr) -> RawConnection:
        return await self.inner.dial(addr)

    async def listen(self, addr: Multiaddr) -> QuicListener:
        listener = await self.inner.listen(addr)
        assert isinstance(listener, QuicListener)
        self.listeners.append(listener)
        return listener
