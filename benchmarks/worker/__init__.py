"""Child processes of the benchmark runner: ``python -m p2pstack.benchmarks.worker ROLE JSON``.

Each role prints JSON lines on stdout (servers first print where they listen) and exits
when its stdin reaches EOF. See :data:`ROLES`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from p2pstack.benchmarks.worker.breakdown import dial_breakdown
from p2pstack.benchmarks.worker.common import Control, Params
from p2pstack.benchmarks.worker.memory import mem_client, mem_server
from p2pstack.benchmarks.worker.muxed import yamux_memory, yamux_send, yamux_sink
from p2pstack.benchmarks.worker.node_roles import stack_latency, stack_perf
from p2pstack.benchmarks.worker.raw import tcp_echo, tcp_latency, tcp_send, tcp_sink
from p2pstack.benchmarks.worker.relaycap import (
    relay_cap_server,
    relay_circuits,
    relay_reserver,
)
from p2pstack.benchmarks.worker.scale import (
    scale_client,
    scale_server,
    stream_rates,
    upload_client,
)

Role = Callable[[Params, Control], Awaitable[None]]

ROLES: Final[dict[str, Role]] = {
    "tcp-sink": tcp_sink,
    "tcp-echo": tcp_echo,
    "tcp-send": tcp_send,
    "tcp-latency": tcp_latency,
    "yamux-sink": yamux_sink,
    "yamux-send": yamux_send,
    "yamux-memory": yamux_memory,
    "stack-perf": stack_perf,
    "stack-latency": stack_latency,
    "mem-server": mem_server,
    "mem-client": mem_client,
    "dial-breakdown": dial_breakdown,
    "scale-server": scale_server,
    "scale-client": scale_client,
    "stream-rates": stream_rates,
    "upload-client": upload_client,
    "relay-cap-server": relay_cap_server,
    "relay-reserver": relay_reserver,
    "relay-circuits": relay_circuits,
}
