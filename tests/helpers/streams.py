"""Stream wrappers for tests: every call passes to the stream below; a test subclasses one
to change the call it is about (split writes, trickle reads, tamper with bytes...)."""

from __future__ import annotations

import trio


class Passthrough(trio.abc.Stream):
    """A ``trio.abc.Stream`` (no ``send_eof``) over ``inner``."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


class HalfCloseablePassthrough(Passthrough, trio.abc.HalfCloseableStream):
    """A ``trio.abc.HalfCloseableStream`` over ``inner`` (which must be one)."""

    async def send_eof(self) -> None:
        assert isinstance(self.inner, trio.abc.HalfCloseableStream)
        await self.inner.send_eof()
