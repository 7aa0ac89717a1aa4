"""Roles of the ``scale`` case's relay-capacity step: a relay server with its limits raised,
peers that hold reservations on it (one node, so one peer id, per reservation), and a pair
of nodes (a target listening through the relay, a dialler) that open and close circuits."""

from __future__ import annotations

import time

import trio

from p2pstack.benchmarks.worker.common import Control, Params, emit, memory_probe
from p2pstack.benchmarks.worker.memory import unlimited_node_config
from p2pstack.benchmarks.worker.scale import cpu_seconds, raise_fd_limit
from p2pstack.compose import open_node
from p2pstack.errors import StackError
from p2pstack.host.connection import Connection
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.ping import PING_PROTOCOL, ping
from p2pstack.protocols.relay import RelayConfig, circuit_relay, relay_server, reserve
from p2pstack.transports.tcp import TcpConfig, tcp

#: Every count limit of the relay, raised so the relay's own limits are not what is measured.
RAISED = {
    "max_reservations": 1_000_000,
    "max_reservations_per_ip": 1_000_000,
    "max_circuits": 1_000_000,
    "max_circuits_per_peer": 1_000_000,
    "max_circuits_per_ip": 1_000_000,
    "peer_rate": None,
    "ip_rate": None,
}


def raised_config(profile: str) -> RelayConfig:
    """The ``default`` or ``bulk`` profile with :data:`RAISED` applied (durations, data
    limits, TTL and buffers as in the profile)."""
    if profile == "bulk":
        return RelayConfig.bulk(**RAISED)
    return RelayConfig(**RAISED)  # type: ignore[arg-type]


async def relay_cap_server(params: Params, control: Control) -> None:
    """A relay (``profile``, limits raised); on "measure": RSS, CPU seconds and its counters.

    ``reuse_port``, ``port`` and ``seed`` as for ``scale-server``: several relay processes
    sharing one address and identity (each holds its own reservations)."""
    raise_fd_limit()
    seed = params.get("seed")
    async with open_node(
        identity=Identity.from_ed25519_seed(bytes.fromhex(seed)) if seed else None,
        listen=[f"/ip4/127.0.0.1/tcp/{params.get('port', 0)}"],
        transports=[tcp(TcpConfig(reuse_port=bool(params.get("reuse_port"))))],
        protocols=[ping()],
        services=[service := relay_server(raised_config(params["profile"]))],
        config=unlimited_node_config(),
    ) as node:
        emit({"addr": str(node.addrs[0].with_peer_id(node.peer_id))})
        while True:
            await control.next_line()
            cpu = cpu_seconds()
            emit(
                {
                    **memory_probe(),
                    "cpu": cpu,
                    "cpu_after": cpu_seconds(),
                    **service.metrics.snapshot(),
                }
            )


async def relay_reserver(params: Params, control: Control) -> None:
    """On "reserve N": start nodes until N hold a reservation on the relay at ``addr`` (each
    a node of its own: reservations are per peer), ``concurrency`` at a time."""
    raise_fd_limit()
    relay = Multiaddr(params["addr"])
    held: list[Connection] = []
    failures = 0

    async def hold_one(limiter: trio.Semaphore, task_status: trio.TaskStatus[None]) -> None:
        """One node holding one reservation until the worker ends (a node's scopes belong
        to the task that opened it, hence a task per node)."""
        nonlocal failures
        async with (
            open_node(transports=[tcp()], protocols=[], config=unlimited_node_config()) as node,
        ):
            async with limiter:
                try:
                    conn = await node.dial(relay)
                    await reserve(conn, verify=False)
                except (StackError, trio.BrokenResourceError, OSError):
                    failures += 1
                    task_status.started()
                    return
            held.append(conn)
            task_status.started()
            await trio.sleep_forever()

    async with trio.open_nursery() as nodes:
        emit({"ready": True})
        while True:
            want = int((await control.next_line()).partition(" ")[2])
            start = time.perf_counter()
            failures = 0
            limiter = trio.Semaphore(params.get("concurrency", 8))
            async with trio.open_nursery() as starting:
                for _ in range(want - len(held)):
                    starting.start_soon(nodes.start, hold_one, limiter)
            live = sum(1 for c in held if not c.is_closed)
            seconds = time.perf_counter() - start
            emit({"live": live, "failures": failures, "seconds": seconds})


async def relay_circuits(params: Params, control: Control) -> None:
    """A target listening through the relay at ``addr`` and a dialler; on "run S": for S
    seconds, one after another, dial the target through the relay, run one ping and close
    the connection; print how many circuits were opened and closed. On "probe N": N such
    circuits, each over a fresh connection to the relay (the dialler hangs up on the relay
    after each): with several relay processes behind one port, those the kernel hands to
    a process that does not hold the target's reservation are refused."""
    raise_fd_limit()
    relay = Multiaddr(params["addr"])
    async with (
        open_node(
            transports=[tcp(), circuit_relay()],
            protocols=[ping()],
            config=unlimited_node_config(),
        ) as target,
        open_node(
            transports=[tcp(), circuit_relay()],
            protocols=[ping()],
            config=unlimited_node_config(),
        ) as dialler,
    ):
        await target.listen(f"{relay}/p2p-circuit")
        circuit = Multiaddr(f"{relay}/p2p-circuit/p2p/{target.peer_id}")
        emit({"ready": True})
        relay_peer = relay.peer_id()
        if relay_peer is None:
            raise ValueError(f"the relay address {relay} names no peer")
        while True:
            command, _, arg = (await control.next_line()).partition(" ")
            if command == "probe":
                ok = 0
                for _ in range(int(arg)):
                    try:
                        conn = await dialler.dial(circuit)
                        await (await conn.new_stream(PING_PROTOCOL)).aclose()
                        await conn.aclose()
                        ok += 1
                    except (StackError, trio.BrokenResourceError):
                        pass
                    await dialler.hang_up(relay_peer)
                emit({"ok": ok, "attempts": int(arg)})
                continue
            seconds = float(arg)
            done = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                conn = await dialler.dial(circuit)
                await (await conn.new_stream(PING_PROTOCOL)).aclose()
                await conn.aclose()
                await conn.wait_closed()
                done += 1
            emit({"circuits": done, "seconds": time.perf_counter() - start})
