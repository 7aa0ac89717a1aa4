"""The p2pstack benchmark suite: throughput, latency and memory against raw TCP and the other
libp2p implementations, measured in one run (``python -m p2pstack.benchmarks``, ``p2pstack bench``).

See docs/benchmarks.md. Every measurement runs in child processes
(:mod:`p2pstack.benchmarks.worker`, the ``p2pstack`` CLI, the js/py/Go peers) that are always
stopped, also on Ctrl-C.

Your own stack configurations are measured from code with :func:`run_custom` and
:class:`Case` (:mod:`p2pstack.benchmarks.custom`), with the same repeats, medians, JSON
record and chart (imported on first use: the workers in this package need none of it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from p2pstack.benchmarks.config import BenchConfig as BenchConfig
    from p2pstack.benchmarks.custom import Case as Case, run_custom as run_custom
    from p2pstack.benchmarks.record import RunRecord as RunRecord

_LAZY = {
    "BenchConfig": "p2pstack.benchmarks.config",
    "Case": "p2pstack.benchmarks.custom",
    "run_custom": "p2pstack.benchmarks.custom",
    "RunRecord": "p2pstack.benchmarks.record",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'p2pstack.benchmarks' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
