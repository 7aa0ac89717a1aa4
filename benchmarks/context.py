"""What a case gets from the runner: the settings, the results and a progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from p2pstack.benchmarks.config import BenchConfig
from p2pstack.benchmarks.figures import Figure, Results, from_samples
from p2pstack.benchmarks.record import load_average


def _ignore(_: str) -> None:
    pass


@dataclass
class Context:
    """Shared by the cases of one run."""

    config: BenchConfig
    results: Results = field(default_factory=Results)
    on_step: Callable[[str], None] = _ignore
    on_figure: Callable[[Figure], None] = lambda figure: None

    def step(self, text: str) -> None:
        """Say what is being measured now."""
        self.on_step(text)

    def record(self, samples: list[float], **fields: Any) -> Figure:
        """Add a figure whose value is the median of ``samples`` (with the load average then)."""
        figure = self.results.add(from_samples(samples, **fields))
        load = load_average()
        if load:
            figure.params["load_1m"] = load[0]
        self.on_figure(figure)
        return figure
