"""Attacks on a real ``p2pstack node`` / ``p2pstack relay`` process (issue 12, hardening).

Each test starts the victim as a subprocess on loopback, attacks it the way a peer that reads
our code would, while an honest peer (its own process, another loopback address) pings it;
see :mod:`.scenario` for what every scenario asserts and the thresholds. Run with ``-s`` to
see one ``ATTACK {...}`` line of figures per scenario.
"""
