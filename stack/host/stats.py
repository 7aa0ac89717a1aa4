"""The node's counters for operators as plain JSON data: :func:`node_stats`.

``Node.stats()`` returns this (``p2pstack node`` and ``p2pstack relay`` print it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p2pstack.role import Role

if TYPE_CHECKING:
    from p2pstack.host.node import Node


def node_stats(node: Node) -> dict[str, Any]:
    """Connections by direction, pending handshakes, streams, reserved memory, refusals by
    scope and limit, contained faults by boundary and exception type, evictions, trimmed
    connections and the measured reachability of ``node``."""
    conns = node.connections
    rm = node.resources
    return {
        "connections": {
            "inbound": sum(1 for c in conns if c.role is Role.RESPONDER),
            "outbound": sum(1 for c in conns if c.role is Role.INITIATOR),
        },
        "pending_inbound": node.admission.pending,
        "streams": sum(c.num_streams for c in conns),
        "memory": {
            "reserved": rm.system.memory,
            "transient": rm.transient.memory,
            "limit": rm.system.limit.memory,
        },
        "refusals": {f"{k}:{limit}": n for (k, limit), n in sorted(rm.refusals.items())},
        "faults": {f"{b}:{t}": n for (b, t), n in sorted(node.faults.counts.items())},
        "evictions": node.admission.evictions,
        "trimmed": node.connections_trimmed,
        "reachability": node.reachability.to_json(),
    }
