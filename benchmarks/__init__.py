"""The p2pstack benchmark suite: throughput, latency and memory against raw TCP and the other
libp2p implementations, measured in one run (``python -m p2pstack.benchmarks``, ``p2pstack bench``).

See docs/benchmarks.md. Every measurement runs in child processes
(:mod:`p2pstack.benchmarks.worker`, the ``p2pstack`` CLI, the js/py/Go peers) that are always
stopped, also on Ctrl-C.

Your own stack configurations are measured from code with :func:`run_custom` and
:class:`Case` (:mod:`p2pstack.benchmarks.custom`), with the same repeats, medians, JSON
record and chart.
"""

from p2pstack.benchmarks.config import BenchConfig as BenchConfig
from p2pstack.benchmarks.custom import Case as Case, run_custom as run_custom
from p2pstack.benchmarks.record import RunRecord as RunRecord

__all__ = ["BenchConfig", "Case", "RunRecord", "run_custom"]
