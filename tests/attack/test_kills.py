"""The two single-packet kills of issue 12: connect+RST before accept, and one identify
message with non-UTF-8 protocol ids. Fast regression tests, then the same as floods."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from .identify_attack import send_bad_identify
from .peers import PEER_ERRORS as ATTACKER_ERRORS
from .prober import probe_once
from .raw import connect_rst_loop
from .scenario import assert_survived, run_attack
from .victim import running_victim

pytestmark = pytest.mark.attack

RST_CYCLES = 300
WS_LISTEN = "/ip4/127.0.0.1/tcp/0/ws"
TCP_LISTEN = "/ip4/127.0.0.1/tcp/0"


@pytest.mark.parametrize(
    ("kind", "listen"),
    [("node", TCP_LISTEN), ("node", WS_LISTEN), ("relay", TCP_LISTEN)],
    ids=["node-tcp", "node-ws", "relay-tcp"],
)
async def test_connect_rst_before_accept_does_not_kill(
    tmp_path: Path, kind: str, listen: str
) -> None:
    async with running_victim(tmp_path, kind, listen=(listen,)) as victim:
        ws = listen.endswith("/ws")
        host, port = victim.host_port(ws=ws)
        done = await connect_rst_loop(host, port, total=RST_CYCLES)
        await trio.sleep(0.5)  # let the accept loop meet the reset connections
        assert victim.alive, f"{victim.describe_death()}\n(after {done} connect+RST)"
        assert done == RST_CYCLES, f"only {done} connects went through"
        error = await probe_once(victim.addr(ws=ws))
        assert error is None, f"{error}\n{victim.describe_death() if not victim.alive else ''}"


async def test_non_utf8_identify_does_not_kill(tmp_path: Path) -> None:
    async with running_victim(tmp_path) as victim:
        errors = []
        for _ in range(3):
            try:
                await send_bad_identify(victim.addr())
            except (*ATTACKER_ERRORS, ExceptionGroup) as exc:
                errors.append(repr(exc))
            await trio.sleep(0.2)  # the victim handles the message after our stream ended
            assert victim.alive, f"{victim.describe_death()}\n(sending: {errors})"
        error = await probe_once(victim.addr())
        assert error is None, error


@pytest.mark.parametrize(
    ("kind", "listen"),
    [("node", TCP_LISTEN), ("node", WS_LISTEN), ("relay", TCP_LISTEN)],
    ids=["node-tcp", "node-ws", "relay-tcp"],
)
async def test_connect_rst_flood(tmp_path: Path, kind: str, listen: str) -> None:
    """5,000 connect+RST cycles in bursts of 25 spread over the probing window."""
    async with running_victim(tmp_path, kind, listen=(listen,)) as victim:
        ws = listen.endswith("/ws")
        host, port = victim.host_port(ws=ws)
        done: list[int] = []

        async def attack(established: trio.Event) -> None:
            established.set()
            for _ in range(200):
                done.append(await connect_rst_loop(host, port, total=25, burst=25))
                await trio.sleep(0.02)

        report = await run_attack(
            victim, f"connect-rst-{kind}-{'ws' if ws else 'tcp'}", attack, target=victim.addr(ws=ws)
        )
        report.notes["connects"] = sum(done)
        assert_survived(victim, report)


async def test_non_utf8_identify_flood(tmp_path: Path) -> None:
    """Fresh identities sending the bad identify message back to back during the window."""
    async with running_victim(tmp_path) as victim:
        target = victim.addr()
        sent: list[int] = []

        async def attack(established: trio.Event) -> None:
            established.set()
            for _ in range(40):
                try:  # the victim may well hang up on us: come back as a new peer
                    await send_bad_identify(target)
                    sent.append(1)
                except (*ATTACKER_ERRORS, ExceptionGroup):
                    if not victim.alive:
                        return

        report = await run_attack(victim, "identify-non-utf8", attack)
        report.notes["sent"] = len(sent)
        assert_survived(victim, report)
