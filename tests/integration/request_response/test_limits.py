"""Size limits, concurrency limits, backpressure policies and misbehaving peers."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from p2pstack.host.netstream import NetStream
from p2pstack.host.node import NodeConfig
from p2pstack.host.resources import MemoryLimits
from p2pstack.protocols.request_response import (
    Backpressure,
    BodyTooLarge,
    MemoryRefused,
    RequestContext,
    RequestResponseConfig,
    RequestTimeout,
    ResponseOmitted,
)
from p2pstack.varint import encode_uvarint
from tests.helpers.request_response import (
    PROTOCOL,
    client_rr,
    drain,
    failures,
    memory_pair,
    server_rr,
)

GIB = 1 << 30


def test_default_limits() -> None:
    config = RequestResponseConfig()
    assert (config.max_request_size, config.max_response_size) == (1 << 20, 10 << 20)
    assert config.request_timeout == 10


async def test_oversize_request_refused_before_sending() -> None:
    client = client_rr(config=RequestResponseConfig(max_request_size=10))
    async with memory_pair([server_rr()], [client]) as (a, b):
        await b.dial(a.addrs[0])
        with a.events.subscribe() as events:
            with pytest.raises(BodyTooLarge) as info:
                await client.request(a.peer_id, "x" * 20)
            assert not info.value.remote
            assert drain(events) == []  # no stream was opened


async def test_oversize_request_reset_by_the_server() -> None:
    server = server_rr(config=RequestResponseConfig(max_request_size=100))
    client = client_rr()
    async with memory_pair([server], [client]) as (a, _):
        with a.events.subscribe() as events:
            with pytest.raises(ResponseOmitted):
                await client.request(a.addrs[0], "x" * 200)
            (error,) = failures(drain(events))
        assert isinstance(error, BodyTooLarge)
        assert error.remote


async def test_request_beyond_the_stream_memory_budget_is_refused() -> None:
    config = NodeConfig(memory=MemoryLimits(stream=64 * 1024))
    client = client_rr()
    async with memory_pair([server_rr()], [client], server_config=config) as (a, _):
        with a.events.subscribe() as events:
            with pytest.raises(ResponseOmitted):
                await client.request(a.addrs[0], "x" * 100_000)
            (error,) = failures(drain(events))
        assert isinstance(error, MemoryRefused)
        assert a.resources.refusals["stream", "memory"] == 1
        assert a.resources.system.memory == a.config.memory.connection_overhead
        assert await client.request(a.addrs[0], "small") == {"echo": "small"}


async def test_oversize_response_refused_by_the_responder() -> None:
    server = server_rr(config=RequestResponseConfig(max_response_size=50))
    async with memory_pair([server], [client := client_rr()]) as (a, _):
        assert await client.request(a.addrs[0], "small") == {"echo": "small"}
        with pytest.raises(ResponseOmitted):
            await client.request(a.peer_id, "x" * 100)


async def test_hostile_request_prefix_is_refused_without_reading_the_body() -> None:
    """A raw peer announces a 1 GiB request; the server resets after the prefix alone."""
    async with memory_pair([server_rr()], [client_rr()]) as (a, b):
        with a.events.subscribe() as events:
            stream = await b.new_stream(a.addrs[0], PROTOCOL)
            await stream.send_all(encode_uvarint(GIB) + b"only a few bytes")
            with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
                await stream.receive_some(10)  # reset, without us sending the body
            (error,) = failures(drain(events))
        assert isinstance(error, BodyTooLarge)
        assert str(GIB) in str(error)


async def test_hostile_response_prefix_is_refused_without_reading_the_body() -> None:
    sent = trio.Event()

    async def liar(stream: NetStream) -> None:
        await stream.receive_length_prefixed(1 << 20)
        await stream.send_all(encode_uvarint(11 << 20) + b"\0" * 1000)
        sent.set()
        await trio.sleep_forever()

    client = client_rr()
    async with memory_pair([], [client]) as (a, _):
        a.set_stream_handler(PROTOCOL, liar)
        with trio.fail_after(5), pytest.raises(BodyTooLarge) as info:
            await client.request(a.addrs[0], 1, timeout=60)
        assert info.value.remote
        assert "11534336 bytes exceeds the limit of 10485760" in str(info.value)


async def test_trickling_request_is_cut_at_the_request_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A peer that announces a request and never completes it holds nothing for long."""
    async with memory_pair([server_rr()], [client_rr()]) as (a, b):
        with a.events.subscribe() as events:
            stream = await b.new_stream(a.addrs[0], PROTOCOL)
            await stream.send_all(encode_uvarint(100) + b"1234")
            start = trio.current_time()
            with pytest.raises(trio.BrokenResourceError):
                await stream.receive_some(10)
            assert trio.current_time() - start == pytest.approx(10, abs=0.5)
            (error,) = failures(drain(events))
        assert isinstance(error, RequestTimeout)


async def test_garbage_request_is_refused() -> None:
    async with memory_pair([server_rr()], [client_rr()]) as (a, b):
        with a.events.subscribe() as events:
            stream = await b.new_stream(a.addrs[0], PROTOCOL)
            await stream.send_all(b"\xff" * 12)
            with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
                await stream.receive_some(10)
            stream = await b.new_stream(a.addrs[0], PROTOCOL)
            await stream.send_all(encode_uvarint(5) + b"{bad}")
            with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
                await stream.receive_some(10)
            names = [type(e).__name__ for e in failures(drain(events))]
        assert names == ["MalformedMessage", "CodecError"]


class Gate:
    """A handler that blocks until released and records what it answered."""

    def __init__(self) -> None:
        self.release = trio.Event()
        self.entered = 0

    async def __call__(self, request: Any, context: RequestContext) -> Any:
        self.entered += 1
        await self.release.wait()
        return {"echo": request}


async def run_three(policy: Backpressure) -> tuple[dict[str, Any], list[Exception]]:
    """A (held in the handler), B (queued), C (queue full); then the gate opens."""
    gate = Gate()
    config = RequestResponseConfig(queue_size=1, handler_concurrency=1, backpressure=policy)
    server, client = server_rr(handler=gate, config=config), client_rr()
    results: dict[str, Any] = {}
    async with memory_pair([server], [client]) as (a, b):
        await b.dial(a.addrs[0])
        with a.events.subscribe() as events:
            async with trio.open_nursery() as nursery:

                async def one(name: str) -> None:
                    try:
                        results[name] = await client.request(a.peer_id, name, timeout=60)
                    except ResponseOmitted as exc:
                        results[name] = exc

                for name in "ABC":
                    nursery.start_soon(one, name)
                    await trio.testing.wait_all_tasks_blocked()
                assert gate.entered == 1
                results["before release"] = sorted(results)
                gate.release.set()
            return results, failures(drain(events))


async def test_block_policy_makes_the_newest_wait() -> None:
    results, errors = await run_three(Backpressure.BLOCK)
    assert results["before release"] == []
    assert [results[n] for n in "ABC"] == [{"echo": n} for n in "ABC"]
    assert errors == []


async def test_drop_newest_policy_refuses_the_newest() -> None:
    results, errors = await run_three(Backpressure.DROP_NEWEST)
    assert results["before release"] == ["C"]
    assert isinstance(results["C"], ResponseOmitted)
    assert [results[n] for n in "AB"] == [{"echo": "A"}, {"echo": "B"}]
    assert len(errors) == 1
    assert "drop-newest" in str(errors[0])


async def test_buffer_newest_policy_evicts_the_oldest_waiting() -> None:
    results, errors = await run_three(Backpressure.BUFFER_NEWEST)
    assert results["before release"] == ["B"]
    assert isinstance(results["B"], ResponseOmitted)
    assert [results[n] for n in "AC"] == [{"echo": "A"}, {"echo": "C"}]
    assert "buffer-newest" in str(errors[0])


async def test_block_policy_still_bounded_by_the_request_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = Gate()
    config = RequestResponseConfig(queue_size=1, handler_concurrency=1, request_timeout=5)
    server, client = server_rr(handler=gate, config=config), client_rr()
    async with memory_pair([server], [client]) as (a, _):
        with pytest.raises(ResponseOmitted):
            await client.request(a.addrs[0], 1, timeout=60)
        assert gate.entered == 1


@pytest.mark.parametrize("limit", ["per_peer", "total"])
async def test_concurrent_inbound_limits(limit: str) -> None:
    gate = Gate()
    config = (
        RequestResponseConfig(max_inbound_per_peer=2)
        if limit == "per_peer"
        else RequestResponseConfig(max_inbound_total=2)
    )
    server, client = server_rr(handler=gate, config=config), client_rr()
    results: list[Any] = []
    async with memory_pair([server], [client]) as (a, b):
        await b.dial(a.addrs[0])
        with a.events.subscribe() as events:
            async with trio.open_nursery() as nursery:

                async def one(n: int) -> None:
                    try:
                        results.append(await client.request(a.peer_id, n))
                    except ResponseOmitted as exc:
                        results.append(exc)

                for n in range(3):
                    nursery.start_soon(one, n)
                    await trio.testing.wait_all_tasks_blocked()
                assert len(results) == 1
                assert isinstance(results[0], ResponseOmitted)
                gate.release.set()
            (error,) = failures(drain(events))
        assert "in progress" in str(error)
        assert sorted(r["echo"] for r in results[1:]) == [0, 1]
