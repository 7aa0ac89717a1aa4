"""The p2pstack benchmark suite: throughput, latency and memory against raw TCP and the other
libp2p implementations, measured in one run (``python -m p2pstack.benchmarks``, ``p2pstack bench``).

See docs/benchmarks.md. Every measurement runs in child processes
(:mod:`p2pstack.benchmarks.worker`, the ``p2pstack`` CLI, the js/py/Go peers) that are always
stopped, also on Ctrl-C.
"""
