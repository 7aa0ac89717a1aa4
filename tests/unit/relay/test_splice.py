"""splice: batched copy steps over fake streams (what the relay's copy loop reads and writes)."""

from __future__ import annotations

from collections import deque
from typing import cast

import trio

from p2pstack.host.netstream import NetStream
from p2pstack.protocols.relay.circuit import splice


class _Record:
    def __init__(self) -> None:
        self.buffered = 0


class _Muxed:
    def __init__(self) -> None:
        self.record = _Record()


class _End:
    """One side of a circuit: hands out ``chunks`` (all "buffered" at once, like a Yamux
    stream holding them), then fails (``fail``) or blocks; records what it is sent."""

    def __init__(self, chunks: list[bytes], *, fail: bool = False) -> None:
        self.muxed = _Muxed()
        self.buffered = 0
        self.chunks = deque(chunks)
        self.fail = fail
        self.sent: list[bytes] = []
        self.reads: list[int] = []
        self.was_reset = False
        self.muxed.record.buffered = sum(map(len, chunks))

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        assert max_bytes is not None
        self.reads.append(max_bytes)
        if self.chunks:
            chunk = self.chunks.popleft()
            if len(chunk) > max_bytes:
                self.chunks.appendleft(chunk[max_bytes:])
                chunk = chunk[:max_bytes]
            self.muxed.record.buffered -= len(chunk)
            if self.fail and not self.chunks:
                self.muxed.record.buffered = 1  # reset with bytes still buffered
            return chunk
        if self.fail:
            raise trio.BrokenResourceError("reset")
        await trio.sleep_forever()
        raise AssertionError

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        self.sent.append(bytes(data))

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()

    async def reset(self) -> None:
        self.was_reset = True
        await trio.lowlevel.checkpoint()


def net(end: _End) -> NetStream:
    return cast("NetStream", end)


async def test_buffered_bytes_go_downstream_in_one_write_up_to_the_buffer() -> None:
    chunks = [bytes([i]) * 1000 for i in range(10)]
    a, b = _End(chunks, fail=True), _End([])
    result = await splice(net(a), net(b), buffer=4500)
    # 4500-byte steps: 1000 + 1000 + 1000 + 1000 + 500, then the rest.
    assert [len(s) for s in b.sent] == [4500, 4500, 1000]
    assert b"".join(b.sent) == b"".join(chunks)
    assert result.bytes_forward == 10_000
    assert result.reason == "reset"
    assert a.was_reset
    assert b.was_reset


async def test_a_failed_read_while_gathering_still_forwards_what_was_read() -> None:
    a, b = _End([b"x" * 100, b"y" * 100], fail=True), _End([])
    result = await splice(net(a), net(b), buffer=1 << 20)
    assert b.sent == [b"x" * 100 + b"y" * 100]
    assert result.bytes_forward == 200
    assert result.reason == "reset"


async def test_the_data_limit_bounds_a_gathered_step() -> None:
    a, b = _End([b"z" * 300] * 4), _End([])
    result = await splice(net(a), net(b), buffer=1 << 20, data=700)
    assert b"".join(b.sent) == b"z" * 700
    assert all(read <= 700 for read in a.reads)
    assert result.reason == "data_limit"
