"""One attack scenario: baseline, attack while the honest peer probes, then recovery.

:func:`run_attack` measures; :func:`assert_survived` checks every promise at once and names
each one that was broken, with the figures (and the victim's stderr if it died). Every
scenario prints one ``ATTACK {...}`` JSON line with its figures (visible with ``pytest -s``).

The thresholds are the constants below; :data:`RSS_BUDGET` is the victim's resource-manager
budget plus what no scope accounts.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import trio

from p2pstack.cli.allocator import TOP_PAD, TRIM_THRESHOLD
from p2pstack.multiaddr import Multiaddr

from .prober import PROBE_TIMEOUT, ProbeResult, probe_in_subprocess, probe_once
from .victim import POLL_INTERVAL, VICTIM_MEMORY, Sample, Victim

MiB: Final = 1024 * 1024

UNACCOUNTED: Final = 64 * MiB
"""What no resource scope accounts while a flood is held: Python objects per connection
and stream (tasks, stream and session objects, ~10-50 KiB each), socket buffers, allocator
slack."""
RSS_BUDGET: Final = VICTIM_MEMORY + UNACCOUNTED
"""Most the victim's RSS may grow above its idle baseline during any attack: its resource
manager budget (``--max-memory``) plus what no scope accounts."""
RSS_RECOVERY_SLACK: Final = TRIM_THRESHOLD + TOP_PAD + 16 * MiB
"""After the attack, RSS must come back within this of the baseline. The ``p2pstack``
command tells glibc to keep up to TRIM_THRESHOLD + TOP_PAD of freed heap mapped (see
stack/cli/allocator.py), so that much is allowed on top of 16 MiB of fragmentation."""
FD_SLACK: Final = 8
"""After the attack, open fds must come back within this of the baseline."""
MIN_SUCCESS_RATIO: Final = 0.95
"""Share of the honest peer's ping attempts that must succeed during the attack."""
SETUP_TIMEOUT: Final = 5.0
"""Most an attacker may take to establish its position before probing starts anyway (it
goes on attacking while the honest peer probes)."""
RECOVERY_DEADLINE: Final = 10.0
"""Seconds after the attacker leaves for fds and RSS to come back."""
SAMPLE_INTERVAL: Final = 0.1

Attack = Callable[[trio.Event], Awaitable[Any]]
"""An attacker coroutine: sets the event once established, runs until cancelled or done."""


@dataclass
class AttackReport:
    """What one scenario measured."""

    name: str
    baseline: Sample
    peak_rss: int = 0
    probes: ProbeResult = field(default_factory=ProbeResult)
    alive_after_attack: bool = True
    final_probe: str | None = None
    after: Sample | None = None
    recovery_seconds: float | None = None
    attacker_error: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def growth(self) -> int:
        return self.peak_rss - self.baseline.rss

    def summary(self) -> str:
        return "ATTACK " + json.dumps(
            {
                "name": self.name,
                "alive": self.alive_after_attack,
                "ping_ok": f"{self.probes.successes}/{self.probes.attempts}",
                "baseline_rss_mib": round(self.baseline.rss / MiB, 1),
                "growth_mib": round(self.growth / MiB, 1),
                "baseline_fds": self.baseline.fds,
                "after_rss_mib": round(self.after.rss / MiB, 1) if self.after else None,
                "after_fds": self.after.fds if self.after else None,
                "recovery_s": self.recovery_seconds,
                "final_probe": self.final_probe,
                "attacker_error": self.attacker_error,
                **self.notes,
            }
        )


async def wait_settled(victim: Victim, fds: int, deadline: float) -> Sample:
    """Poll until the victim has at most ``fds`` open (or ``deadline`` seconds pass)."""
    with trio.move_on_after(deadline):
        while victim.alive and victim.sample().fds > fds:  # noqa: ASYNC110 - polls /proc
            await trio.sleep(POLL_INTERVAL)
    return victim.sample()


async def baseline(victim: Victim, target: Multiaddr) -> Sample:
    """Warm the victim up with one honest ping (which must work), let that connection go,
    and read the idle baseline."""
    before = victim.sample()
    error = await probe_once(target)
    assert error is None, f"the victim does not even answer before the attack: {error}"
    return await wait_settled(victim, before.fds, 10.0)


async def run_attack(
    victim: Victim,
    name: str,
    attack: Attack,
    *,
    target: Multiaddr | None = None,
    notes: dict[str, Any] | None = None,
    setup_timeout: float = SETUP_TIMEOUT,
) -> AttackReport:
    """Measure ``victim`` under ``attack`` (see the module docstring); probing starts when
    the attacker is established or after ``setup_timeout`` seconds."""
    target = target or victim.addr()
    report = AttackReport(name, await baseline(victim, target), notes=notes or {})
    report.peak_rss = report.baseline.rss
    victim.peak_rss = report.baseline.rss
    established = trio.Event()

    async def attacker() -> None:
        try:
            await attack(established)
        except Exception as exc:  # the attacker's own failure is reported, not raised
            report.attacker_error = f"{type(exc).__name__}: {exc}"
        finally:
            established.set()

    async def sampler() -> None:
        while victim.alive:
            victim.sample()
            await trio.sleep(SAMPLE_INTERVAL)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(attacker)
        nursery.start_soon(sampler)
        with trio.move_on_after(setup_timeout):
            await established.wait()
        report.probes = await probe_in_subprocess(target)
        nursery.cancel_scope.cancel()
    report.peak_rss = victim.peak_rss
    report.alive_after_attack = victim.alive
    if victim.alive:
        start = trio.current_time()
        limit_fds = report.baseline.fds + FD_SLACK
        limit_rss = report.baseline.rss + RSS_RECOVERY_SLACK
        with trio.move_on_after(RECOVERY_DEADLINE):
            while victim.alive:
                sample = victim.sample()
                if sample.fds <= limit_fds and sample.rss <= limit_rss:
                    report.recovery_seconds = round(trio.current_time() - start, 2)
                    break
                await trio.sleep(POLL_INTERVAL)
        report.after = victim.sample() if victim.alive else None
        report.final_probe = await probe_once(target) if victim.alive else "victim dead"
    return report


def assert_survived(victim: Victim, report: AttackReport) -> None:
    """Print the report's summary line, then fail naming every broken promise: alive,
    serving, within budget, recovered."""
    print(report.summary())
    problems: list[str] = []
    if not report.alive_after_attack or not victim.alive:
        problems.append(victim.describe_death())
    probes = report.probes
    if probes.ratio < MIN_SUCCESS_RATIO:
        shown = "; ".join(sorted(set(probes.failures))[:5])
        problems.append(
            f"honest pings succeeded {probes.successes}/{probes.attempts} "
            f"(< {MIN_SUCCESS_RATIO:.0%}; timeout {PROBE_TIMEOUT} s): {shown}"
        )
    if report.growth > RSS_BUDGET:
        problems.append(
            f"RSS grew by {report.growth / MiB:.1f} MiB (budget {RSS_BUDGET / MiB:.0f} MiB)"
        )
    if report.alive_after_attack and report.recovery_seconds is None:
        after = report.after
        problems.append(
            f"not back to idle within {RECOVERY_DEADLINE} s: fds {after and after.fds} "
            f"(baseline {report.baseline.fds} + {FD_SLACK}), RSS "
            f"{after and round(after.rss / MiB, 1)} MiB (baseline "
            f"{report.baseline.rss / MiB:.1f} + {RSS_RECOVERY_SLACK / MiB:.0f} MiB)"
        )
    if report.alive_after_attack and report.final_probe is not None:
        problems.append(f"honest ping after the attack failed: {report.final_probe}")
    assert not problems, f"{report.summary()}\n" + "\n".join(problems)
