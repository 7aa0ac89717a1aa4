"""CircuitStream passes trio's half-closeable stream conformance checks."""

from __future__ import annotations

import trio
import trio.testing

from p2pstack.protocols.relay.circuit import CircuitStream
from p2pstack.protocols.relay.messages import Limit


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
