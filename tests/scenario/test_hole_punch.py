"""Hole punching through two NATs (DCUtR over a relay), real processes in namespaces.

a (10.1.0.2, behind NAT 1 = 5.5.5.1) and b (10.2.0.2, behind NAT 2 = 5.5.5.2) run
``tests.helpers.hole_punch_peer`` with TCP port reuse and DCUtR; each connects to the relay on
the public bridge (5.5.5.10), learns its public address from identify and reserves a slot.
b dials a through the relay; a, which received the relayed connection, runs DCUtR.

* ``pp`` NATs (ports kept): the simultaneous open punches a direct connection, a perf
  transfer runs over it, and the relay's byte counter shows it carried none of the data.
* ``random`` NAT in front of b (a new public port per flow): the punch fails after three
  rounds with a reason (``HolePunchFailed``) and the peers stay on the relayed connection.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import trio

from tests.helpers.netns import NsProcess, can_use_netns, run_in
from tests.helpers.two_nat import R1_WAN, R2_WAN, RELAY_IP, TwoNat, two_nat

pytestmark = pytest.mark.scenario

PORT = 4001
PERF_BYTES = 4 << 20
"""Far beyond the relay's 128 KiB circuit limit: only a direct connection carries it."""


@pytest.fixture(params=["pp", "random"])
def bed(request: pytest.FixtureRequest) -> Iterator[TwoNat]:
    why = can_use_netns()
    if why is None and shutil.which("nft") is None:
        why = "nftables (nft) is not installed"
    if why is not None:  # the scenarios are part of the suite: fail, never skip
        pytest.fail(f"hole punch scenario cannot run: {why}", pytrace=False)
    with two_nat("pp", request.param) as net:
        yield net


@dataclass
class Peers:
    relay: NsProcess
    a: NsProcess
    b: NsProcess
    a_id: str
    b_id: str
    relay_addr: str


async def send(proc: NsProcess, line: str) -> None:
    assert proc.process.stdin is not None
    await proc.process.stdin.send_all(f"{line}\n".encode())


async def reply(proc: NsProcess, key: str, within: float, after: int = 0) -> dict[str, Any]:
    """The first line holding ``key`` (or ``<verb>_error``) among lines ``after`` onwards."""

    def found(lines: list[dict[str, Any]]) -> bool:
        return any(key in line or f"{key}_error" in line for line in lines[after:])

    lines = await proc.wait_for(key, found, within)
    line = next(x for x in lines[after:] if key in x or f"{key}_error" in x)
    assert key in line, f"{line}\n{proc.describe()}"
    return line


def event(proc: NsProcess) -> dict[str, Any] | None:
    return next((x for x in proc.lines() if x.get("event", "").startswith("HolePunch")), None)


@asynccontextmanager
async def peers(net: TwoNat) -> AsyncIterator[Peers]:
    argv = [sys.executable, "-m", "tests.helpers.hole_punch_peer"]
    relay_listen = f"/ip4/{RELAY_IP}/tcp/{PORT}"
    async with run_in(net.ns("relay"), [*argv, "relay", "--listen", relay_listen],
                      label="relay") as relay:  # fmt: skip
        started = await reply(relay, "started", 20)
        relay_addr = f"{relay_listen}/p2p/{started['peer_id']}"
        peer_argv = [*argv, "peer", "--listen", f"/ip4/0.0.0.0/tcp/{PORT}", "--relay", relay_addr]
        async with (
            run_in(net.ns("a"), peer_argv, label="a") as a,
            run_in(net.ns("b"), peer_argv, label="b") as b,
        ):
            a_info = await reply(a, "started", 20)
            b_info = await reply(b, "started", 20)
            print(f"a observed as {a_info['observed']}, b as {b_info['observed']}")
            yield Peers(relay, a, b, a_info["peer_id"], b_info["peer_id"], relay_addr)


async def test_hole_punch_through_two_nats(bed: TwoNat) -> None:
    async with peers(bed) as p:
        # With port reuse, a's dial to the relay left from its listening port: NAT 1 (pp)
        # kept it, so the relay observed a's punchable public address.
        assert f"/ip4/{R1_WAN}/tcp/{PORT}" in p.a.first("started")["observed"]
        started = trio.current_time()
        await send(p.b, f"dial {p.relay_addr}/p2p-circuit/p2p/{p.a_id}")
        dialled = await reply(p.b, "dialled", 15)
        assert dialled["limited"], dialled
        await p.a.wait_for("hole punch outcome", lambda _: event(p.a) is not None, 30)
        outcome = event(p.a)
        assert outcome is not None
        took = trio.current_time() - started
        print(f"NAT 2 {bed.nat2}: {outcome} ({took:.2f} s after the relayed dial)")
        assert outcome["initiator"], outcome  # a received the relayed connection
        mark = len(p.b.lines())
        await send(p.relay, "stats")
        before = (await reply(p.relay, "stats", 10))["stats"]["bytes_relayed"]
        if bed.nat2 == "pp":
            assert outcome["event"] == "HolePunchSucceeded", f"{outcome}\n{bed.conntrack('r1')}"
            assert outcome["addr"].startswith(f"/ip4/{R2_WAN}/tcp/{PORT}"), outcome
            await send(p.b, f"perf {p.a_id} {PERF_BYTES}")
            done = await reply(p.b, "perf", 30, after=mark)
            assert done["perf"]["upload"] == done["perf"]["download"] == PERF_BYTES, done
            assert not done["limited"], done
            assert done["via"].startswith(f"/ip4/{R1_WAN}/tcp/{PORT}"), done
            assert done["role"] == "responder", done  # b answered DCUtR: the Noise responder
            relay_lines = len(p.relay.lines())
            await send(p.relay, "stats")
            after = (await reply(p.relay, "stats", 10, after=relay_lines))["stats"]
            print(f"perf {PERF_BYTES} B each way over {done['via']} in "
                  f"{done['perf']['seconds']:.2f} s; relay bytes {before} -> "
                  f"{after['bytes_relayed']}")  # fmt: skip
            assert after["bytes_relayed"] - before < 16 * 1024, (before, after)
        else:
            assert outcome["event"] == "HolePunchFailed", outcome
            assert outcome["attempts"] == 3, outcome
            assert "all 3 attempts failed" in outcome["reason"], outcome
            await send(p.b, f"ping {p.a_id}")
            pinged = await reply(p.b, "ping", 15, after=mark)
            assert pinged["limited"], pinged  # still the relayed connection, still working
