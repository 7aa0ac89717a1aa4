"""What the soak run records: counters, latency series per sampling window, process samples."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

MAX_NOTES: Final = 50
"""Distinct error texts kept (each with a count); further ones are counted as ``other``."""


@dataclass
class Counters:
    """Event counts (honest successes and failures, attack attempts) and error texts."""

    counts: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)

    def add(self, name: str, amount: int = 1) -> None:
        self.counts[name] += amount

    def note(self, where: str, exc: BaseException) -> None:
        """Count the error ``exc`` (the first leaf of a group) seen by ``where``."""
        while isinstance(exc, BaseExceptionGroup):
            exc = exc.exceptions[0]
        text = " ".join(f"{where}: {type(exc).__name__}: {exc}".split())[:240]
        if text in self.notes or len(self.notes) < MAX_NOTES:
            self.notes[text] += 1
        else:
            self.notes["other"] += 1


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[rank]


@dataclass
class Series:
    """Values (seconds) of one measurement: the current window and a bounded overall sample."""

    window: list[float] = field(default_factory=list)
    overall: list[float] = field(default_factory=list)
    count: int = 0
    max_overall: int = 200_000

    def add(self, value: float) -> None:
        self.window.append(value)
        self.count += 1
        if len(self.overall) < self.max_overall:
            self.overall.append(value)

    def take_window(self) -> dict[str, Any]:
        """Percentiles in ms of the window, which starts again empty."""
        values, self.window = self.window, []
        return summary_ms(values)


def summary_ms(values: list[float]) -> dict[str, Any]:
    def ms(q: float) -> float | None:
        value = percentile(values, q)
        return None if value is None else round(value * 1000, 3)

    return {"n": len(values), "p50_ms": ms(0.5), "p95_ms": ms(0.95), "p99_ms": ms(0.99),
            "max_ms": ms(1.0)}  # fmt: skip


def process_sample(pid: int) -> dict[str, Any] | None:
    """RSS (KiB), open fds and threads of ``pid``; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if fields.get("State", "").strip().startswith("Z"):
        return None
    return {
        "rss_kib": int(fields["VmRSS"].split()[0]),
        "fds": fds,
        "threads": int(fields["Threads"]),
    }
