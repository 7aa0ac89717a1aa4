"""Honest traffic for the soak run: what a well-behaved peer does, timed.

Each loop runs until cancelled, one operation at a time, and records the operation's time in
a :class:`~p2pstack.benchmarks.soak.stats.Series` and ``<name>_ok`` / ``<name>_fail`` in the
counters (failures also as error texts). A failed operation never stops the loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import trio

from p2pstack.benchmarks.soak.stats import Counters, Series
from p2pstack.cli.common import client_protocols
from p2pstack.compose import open_node
from p2pstack.host.node import Node
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.perf import perf_peer
from p2pstack.protocols.ping import Pinger
from p2pstack.protocols.request_response import JsonCodec, request_response

OP_TIMEOUT: Final = 30.0
"""An honest operation that takes longer than this counts as failed."""
RR_PROTOCOL: Final = "/soak/echo/1.0.0"


async def _timed(
    name: str, op: Callable[[], Awaitable[Any]], series: Series, counters: Counters
) -> Any:
    start = trio.current_time()
    try:
        with trio.fail_after(OP_TIMEOUT):
            result = await op()
    except Exception as exc:  # every failure is a measurement; the loop goes on
        counters.add(f"{name}_fail")
        counters.note(name, exc)
        return None
    series.add(trio.current_time() - start)
    counters.add(f"{name}_ok")
    return result


async def ping_loop(
    node: Node, target: Multiaddr, interval: float, series: Series, counters: Counters
) -> None:
    """Ping over one kept connection (the Pinger reopens its stream when needed)."""
    async with Pinger(node, target, ping_timeout=OP_TIMEOUT) as pinger:
        while True:
            await _timed("ping", pinger.ping, series, counters)
            await trio.sleep(interval)


async def fresh_peer_loop(
    label: str, target: Multiaddr, interval: float, series: Series, counters: Counters
) -> None:
    """A fresh peer (new identity) dials ``target`` (direct or through a relay) and pings
    once: connect + first stream time, recorded as ``label``."""

    async def once() -> None:
        async with (
            open_node(protocols=client_protocols()) as fresh,
            Pinger(fresh, target, ping_timeout=OP_TIMEOUT) as pinger,
        ):
            await pinger.ping()

    while True:
        await _timed(label, once, series, counters)
        await trio.sleep(interval)


async def perf_loop(
    node: Node, target: Multiaddr, size: int, interval: float, series: Series, counters: Counters
) -> None:
    """``size`` bytes up and down over the kept connection, every ``interval`` seconds."""

    async def once() -> None:
        await perf_peer(node, target, upload=size, download=size)

    while True:
        await _timed("perf", once, series, counters)
        await trio.sleep(interval)


async def rr_loop(target: Multiaddr, interval: float, series: Series, counters: Counters) -> None:
    """JSON request-response against the node's ``--rr-echo`` service."""
    rr = request_response(RR_PROTOCOL, JsonCodec(), serve=False)
    async with open_node(protocols=[*client_protocols(), rr]):
        count = 0
        while True:
            count += 1
            payload = {"n": count, "pad": "x" * 200}

            async def once(payload: dict[str, Any] = payload) -> None:
                answer = await rr.request(target, payload, timeout=OP_TIMEOUT)
                if answer != {"echo": payload}:
                    raise ValueError(f"wrong answer {answer!r:.80}")

            await _timed("rr", once, series, counters)
            await trio.sleep(interval)
