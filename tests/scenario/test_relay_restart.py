"""A relay killed and restarted (same key, same port) with a circuit open.

h3 runs ``p2pstack relay``; h1 runs ``p2pstack node --relay-via`` the relay; h2's clients ping
h1 through the circuit. While the relay is down, clients fail with one typed error line; after
the restart the node reserves again by itself and clients succeed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

from tests.helpers.netns import Host, Lan, NsProcess

from .bed import exited, kill, log_count, maddr, one_line_error, p2pstack, started

pytestmark = pytest.mark.scenario

RELAY_PORT = 4003
REPRESERVE_BOUND = 15.0
"""Seconds from the relay's restart until the node holds a reservation again (the relay
client retries 1, 2, 4, ... s after losing the relay)."""
NEW_RESERVATION = "new reservation on relay"


async def reserved(node: NsProcess, count: int, within: float) -> float:
    """Wait until the node logged ``count`` new reservations; the seconds it took."""
    start = time.monotonic()
    with trio.move_on_after(within):
        while log_count(node, NEW_RESERVATION) < count:
            assert node.process.poll() is None, node.describe()
            await trio.sleep(0.05)
        return time.monotonic() - start
    raise AssertionError(f"no reservation #{count} within {within} s\n{node.describe()}")


async def ping_ok(client: Host, circuit: str, label: str) -> None:
    async with p2pstack(client, "ping", circuit, "--count", "2", "--json", label=label) as ping:
        assert await exited(ping, 30) == 0, ping.describe()


async def test_relay_restart_with_open_circuit(lan3: Lan, tmp_path: Path) -> None:
    h1, h2, h3 = lan3.hosts
    key = str(tmp_path / "relay.key")
    relay_argv = ["relay", "--listen", maddr(h3, RELAY_PORT), "--key", key]
    async with p2pstack(h3, *relay_argv, label="relay") as relay:
        relay_id = (await started(relay))["peer_id"]
        via = f"{maddr(h3, RELAY_PORT)}/p2p/{relay_id}"
        node_argv = ["-v", "node", "--listen", maddr(h1), "--relay-via", via]
        async with p2pstack(h1, *node_argv, label="node") as node:
            info = await started(node)
            circuit = next(a for a in info["listen_addrs"] if "/p2p-circuit" in a)
            await reserved(node, 1, 10)
            await ping_ok(h2, circuit, "ping-before")

            long_ping = ["ping", circuit, "--count", "400", "--interval", "0.05", "--json"]
            async with p2pstack(h2, *long_ping, label="ping-open") as open_circuit:
                await relay.wait_for(  # "circuit <n> open: <src> -> <dst>"
                    "second circuit", lambda _: log_count(relay, " open: ") >= 2, 20
                )
                await trio.sleep(0.5)  # pings flowing through the circuit
                assert open_circuit.process.poll() is None, open_circuit.describe()
                killed = kill(relay)
                assert await exited(open_circuit, 15) != 0, open_circuit.describe()
                failed = time.monotonic() - killed
                line = one_line_error(open_circuit, "ping")
                print(f"relay SIGKILLed: the open circuit's ping failed after {failed:.3f} s: "
                      f"{line}")  # fmt: skip
            async with p2pstack(h2, "ping", circuit, "--count", "1", label="ping-down") as down:
                assert await exited(down, 30) != 0, down.describe()
                print(f"relay down: {one_line_error(down, 'ping')}")
            assert node.process.poll() is None, node.describe()

            async with p2pstack(h3, *relay_argv, label="relay-again") as again:
                assert (await started(again))["peer_id"] == relay_id
                took = await reserved(node, 2, REPRESERVE_BOUND)
                print(f"relay restarted: node reserved again after {took:.2f} s")
                await ping_ok(h2, circuit, "ping-after")
