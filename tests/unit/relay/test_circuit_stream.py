"""CircuitStream passes trio's half-closeable stream conformance checks."""

from __future__ import annotations

import trio
import trio.testing

from p2pstack.bufstream import BufferedStream
from p2pstack.protocols.relay.circuit import CircuitStream
from p2pstack.protocols.relay.messages import Limit
from tests.helpers.streams import HalfCloseablePassthrough


async def test_half_closeable_conformance() -> None:
    async def pair() -> tuple[CircuitStream, CircuitStream]:
        left, right = trio.testing.memory_stream_pair()
        return CircuitStream(left), CircuitStream(right, limit=Limit(duration=60))

    async def clogged() -> tuple[CircuitStream, CircuitStream]:
        a_send, b_receive = trio.testing.lockstep_stream_one_way_pair()
        b_send, a_receive = trio.testing.lockstep_stream_one_way_pair()
        left = trio.StapledStream(a_send, a_receive)
        right = trio.StapledStream(b_send, b_receive)
        return CircuitStream(left), CircuitStream(right)

    await trio.testing.check_half_closeable_stream(pair, clogged)


async def test_counts_bytes_and_reports_limits() -> None:
    left, right = trio.testing.memory_stream_pair()
    a = CircuitStream(left, limit=Limit(data=100))
    b = CircuitStream(right)
    assert a.limited
    assert not b.limited
    await a.send_all(b"x" * 10)
    assert await b.receive_some() == b"x" * 10
    assert a.bytes_sent == 10
    assert b.bytes_received == 10


class _Below(HalfCloseablePassthrough):
    """A stream over one end of a memory pair that may say its receives are cancel-safe
    (trio's memory streams are: a cancelled receive takes nothing)."""

    def __init__(self, inner: trio.abc.HalfCloseableStream, *, safe: bool) -> None:
        super().__init__(inner)
        if safe:
            self.cancel_safe_receive = True


async def test_cancel_safe_receive_follows_the_stream_below() -> None:
    def below(*, safe: bool) -> _Below:
        return _Below(trio.testing.memory_stream_pair()[0], safe=safe)

    assert not CircuitStream(trio.testing.memory_stream_pair()[0]).cancel_safe_receive
    assert not CircuitStream(below(safe=False)).cancel_safe_receive
    assert CircuitStream(below(safe=True)).cancel_safe_receive
    assert CircuitStream(BufferedStream(below(safe=True), b"ahead")).cancel_safe_receive
    assert not CircuitStream(BufferedStream(below(safe=False))).cancel_safe_receive


async def test_cancelled_receive_loses_nothing() -> None:
    left, right = trio.testing.memory_stream_pair()
    circuit = CircuitStream(BufferedStream(_Below(right, safe=True), b"ahead"))
    assert circuit.cancel_safe_receive
    with trio.CancelScope() as scope:
        scope.cancel()
        await circuit.receive_some()
    assert await circuit.receive_some() == b"ahead"
    with trio.move_on_after(0.01):
        await circuit.receive_some()  # nothing there: cancelled while waiting
    await left.send_all(b"after")
    assert await circuit.receive_some() == b"after"
    assert circuit.bytes_received == 10
