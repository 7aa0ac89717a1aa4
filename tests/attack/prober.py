"""The honest peer: pings the victim from a fresh node (fresh identity, fresh connection)
at a fixed cadence and records how many attempts succeed.

The honest peer runs in its own process (:func:`probe_in_subprocess`), as it would on its own
machine: the attacker's tasks in the test process do not slow it down.

Each attempt is what ``p2pstack ping --count 1`` does: dial (over TCP from
:data:`~.sources.HONEST_SOURCE`, not the attacker's address), open a ping stream, one round
trip, all within :data:`PROBE_TIMEOUT`. Attempts start every ``interval`` seconds whatever the
previous one is doing, so a victim that hangs costs failures, not fewer attempts.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass, field
from typing import Final

import trio

from p2pstack.compose import open_node
from p2pstack.errors import StackError
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.transports.websocket import websocket

from .sources import HONEST_SOURCE, SourceBoundTcp
from .victim import ROOT

PROBE_TIMEOUT: Final = 5.0
"""Seconds one honest attempt (dial, upgrade, one ping) may take."""
PROBES: Final = 20
PROBE_INTERVAL: Final = 0.3

logger: Final = logging.getLogger("p2pstack.tests.attack")

_ERRORS: Final = (
    StackError,
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
)


@dataclass
class ProbeResult:
    """Outcome of a probing run."""

    attempts: int = 0
    successes: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.successes / self.attempts if self.attempts else 0.0


async def probe_once(target: Multiaddr, limit: float = PROBE_TIMEOUT) -> str | None:
    """One honest attempt from a fresh node within ``limit`` seconds; None on success, else
    why it failed."""
    try:
        with trio.fail_after(limit):
            async with open_node(
                protocols=[ping(), identify()],
                transports=[SourceBoundTcp(HONEST_SOURCE), websocket()],
            ) as node:
                await ping_peer(node, target, ping_timeout=limit)
    except trio.TooSlowError:
        return f"no answer within {limit} s"
    except _ERRORS as exc:
        return f"{type(exc).__name__}: {exc}"
    except ExceptionGroup as group:
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        return f"{type(leaf).__name__}: {leaf}"
    return None


async def probe(
    target: Multiaddr, *, count: int = PROBES, interval: float = PROBE_INTERVAL
) -> ProbeResult:
    """Run ``count`` attempts ``interval`` seconds apart (overlapping if slow)."""
    result = ProbeResult()

    async def attempt() -> None:
        error = await probe_once(target)
        result.attempts += 1
        if error is None:
            result.successes += 1
        else:
            result.failures.append(error)

    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(attempt)
            await trio.sleep(interval)
    return result


async def probe_in_subprocess(
    target: Multiaddr, *, count: int = PROBES, interval: float = PROBE_INTERVAL
) -> ProbeResult:
    """:func:`probe` run by ``python -m tests.attack.prober`` in a separate process."""
    argv = [sys.executable, "-m", "tests.attack.prober", str(target), str(count), str(interval)]
    with trio.fail_after(count * interval + PROBE_TIMEOUT + 60):
        done = await trio.run_process(
            argv, capture_stdout=True, capture_stderr=True, check=False, cwd=ROOT
        )
    if done.returncode != 0:
        raise AssertionError(f"the prober failed ({done.returncode}): {done.stderr.decode()}")
    return ProbeResult(**json.loads(done.stdout))


def main(argv: list[str]) -> None:
    """``python -m tests.attack.prober MA COUNT INTERVAL``: one JSON ProbeResult on stdout."""
    target, count, interval = Multiaddr(argv[0]), int(argv[1]), float(argv[2])
    result = trio.run(lambda: probe(target, count=count, interval=interval))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main(sys.argv[1:])
