"""Link faults under real ``p2pstack`` processes: each runs in its own network namespace.

A node serves on h1 (10.79.0.1); clients run on h2. The faults act on h2's bridge port (see
:mod:`tests.scenario.bed`). "Released" means the process closed its TCP connection socket.
"""

from __future__ import annotations

import time

import pytest
import trio

from tests.helpers.netns import Host, Lan, NsProcess

from .bed import (
    blackhole,
    clear,
    connection_sockets,
    exited,
    impaired,
    kill,
    link_down,
    link_up,
    maddr,
    one_line_error,
    p2pstack,
    rate_limit,
    released_after,
    started,
    until,
)

pytestmark = pytest.mark.scenario

DEAD_PEER_BOUND = 25.0
"""Seconds within which a node releases a connection whose peer went silent (Yamux keepalive:
interval + timeout, plus closing)."""
RST_BOUND = 3.0
"""Seconds within which a connection reset by the peer's kernel is released."""
OUTAGE = 5.0
"""How long the link stays down in the outage scenario (seconds)."""
RATE_MB_S = 20
"""The switch polices h2's inbound traffic to this rate: bulk transfers last a few seconds."""
BULK = 64 << 20


async def target_of(node: NsProcess) -> str:
    info = await started(node)
    return str(info["listen_addrs"][0])


async def transferring(node: NsProcess) -> None:
    """Wait until the node holds the client's connection, then a little into the transfer."""
    await until("connection", lambda: connection_sockets(node.process.pid) > 0, 30)
    await trio.sleep(1.0)


async def still_serves(node: NsProcess, client: Host, target: str) -> None:
    """The node is alive, holds no connection and answers a fresh client."""
    assert node.process.poll() is None, node.describe()
    async with p2pstack(client, "ping", target, "--count", "2", "--json", label="ping") as ping:
        assert await exited(ping, 30) == 0, ping.describe()
    await until("release", lambda: connection_sockets(node.process.pid) == 0, 10)


def download(target: str, size: int = BULK) -> list[str]:
    return ["perf", target, "--download", str(size), "--json"]


async def test_link_outage_during_bulk_transfer(lan3: Lan) -> None:
    """The link drops for OUTAGE seconds mid-transfer: the transfer completes (TCP resumes)
    or ends with one typed error line; the node stays up."""
    h1, h2, _ = lan3.hosts
    rate_limit(lan3, h2, RATE_MB_S)
    async with p2pstack(h1, "-vv", "node", "--listen", maddr(h1), "--perf", label="node") as node:
        target = await target_of(node)
        async with p2pstack(h2, *download(target), label="perf") as perf:
            await transferring(node)
            link_down(lan3, h2)
            assert perf.process.poll() is None, f"done before the outage\n{perf.describe()}"
            await trio.sleep(OUTAGE)
            link_up(lan3, h2)
            up = time.monotonic()
            status = await exited(perf, 60)
            finished = time.monotonic() - up
            if status == 0:
                result = perf.first("download_bytes")
                assert result["download_bytes"] == BULK
                assert result["download_seconds"] > OUTAGE
                print(f"outage {OUTAGE} s: transfer completed {finished:.1f} s after link up")
            else:
                line = one_line_error(perf, "perf")
                print(f"outage {OUTAGE} s: transfer failed ({line}) {finished:.1f} s after up")
        await still_serves(node, h2, target)


async def test_killed_peer_rst_releases_at_once(lan3: Lan) -> None:
    """SIGKILL with the kernel alive (a RST arrives): the client's death is released by the
    node, and the node's death ends the client's perf with one error line, within RST_BOUND."""
    h1, h2, _ = lan3.hosts
    rate_limit(lan3, h2, RATE_MB_S)
    async with p2pstack(h1, "-vv", "node", "--listen", maddr(h1), "--perf", label="node") as node:
        target = await target_of(node)
        async with p2pstack(h2, *download(target), label="perf") as perf:
            await transferring(node)
            released = await released_after(node, kill(perf), RST_BOUND)
            assert released is not None, f"not released in {RST_BOUND} s\n{node.describe()}"
            print(f"client SIGKILLed: node released the connection in {released:.3f} s")
        await still_serves(node, h2, target)
        async with p2pstack(h2, *download(target), label="perf") as perf:
            await transferring(node)
            killed = kill(node)
            assert await exited(perf, RST_BOUND) != 0
            print(f"node SIGKILLed: perf failed in {time.monotonic() - killed:.3f} s")
            one_line_error(perf, "perf")


async def test_killed_peer_behind_silent_link_released_within_bound(lan3: Lan) -> None:
    """The client's host vanishes (every frame dropped) and its process dies: no RST ever
    arrives; the node releases the connection within DEAD_PEER_BOUND (Yamux keepalive)."""
    h1, h2, _ = lan3.hosts
    rate_limit(lan3, h2, RATE_MB_S)
    async with p2pstack(h1, "-vv", "node", "--listen", maddr(h1), "--perf", label="node") as node:
        target = await target_of(node)
        async with p2pstack(h2, *download(target), label="perf") as perf:
            await transferring(node)
            blackhole(lan3, h2)
            released = await released_after(node, kill(perf), DEAD_PEER_BOUND + 5)
        print(f"vanished client: node released the connection after {released} s")
        assert released is not None, (
            f"still held after {DEAD_PEER_BOUND + 5} s (bound {DEAD_PEER_BOUND} s)\n"
            f"{node.describe()}"
        )
        assert released <= DEAD_PEER_BOUND, node.describe()
        clear(lan3, h2)
        await still_serves(node, h2, target)


async def test_silent_link_released_within_bound(lan3: Lan) -> None:
    """The link silently drops everything while both processes live: the node releases the
    connection and the client's perf ends with one error line, both within DEAD_PEER_BOUND."""
    h1, h2, _ = lan3.hosts
    rate_limit(lan3, h2, RATE_MB_S)
    async with p2pstack(h1, "-vv", "node", "--listen", maddr(h1), "--perf", label="node") as node:
        target = await target_of(node)
        async with p2pstack(h2, *download(target), label="perf") as perf:
            await transferring(node)
            blackhole(lan3, h2)
            start = time.monotonic()
            client_ended: list[float] = []

            async def watch_client() -> None:
                with trio.move_on_after(DEAD_PEER_BOUND + 5):
                    await perf.process.wait()
                    client_ended.append(time.monotonic() - start)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch_client)
                released = await released_after(node, start, DEAD_PEER_BOUND + 5)
            print(f"silent link: node released after {released} s, perf ended after "
                  f"{client_ended} s")  # fmt: skip
            assert released is not None, (
                f"node: still held after {DEAD_PEER_BOUND + 5} s (bound {DEAD_PEER_BOUND} s)\n"
                f"{node.describe()}"
            )
            assert released <= DEAD_PEER_BOUND, node.describe()
            assert client_ended, f"perf still running\n{perf.describe()}"
            assert client_ended[0] <= DEAD_PEER_BOUND, perf.describe()
            assert perf.process.returncode != 0
            one_line_error(perf, "perf")
        clear(lan3, h2)
        await still_serves(node, h2, target)


LOSS = 5.0
DELAY_MS = 50.0
LOSSY_SIZE = 2 << 20


async def test_perf_completes_under_loss_and_delay(lan3: Lan) -> None:
    """5 % frame loss and 50 ms one-way delay on h2's link: a perf of 2 MiB each way
    completes with every byte."""
    h1, h2, _ = lan3.hosts
    async with (
        impaired(lan3, h2, delay_ms=DELAY_MS, loss=LOSS),
        p2pstack(h1, "node", "--listen", maddr(h1), "--perf", label="node") as node,
    ):
        target = await target_of(node)
        args = ["perf", target, "--upload", str(LOSSY_SIZE), "--download", str(LOSSY_SIZE)]
        async with p2pstack(h2, *args, "--json", label="perf") as perf:
            assert await exited(perf, 120) == 0, perf.describe()
            result = perf.first("download_bytes")
        assert result["download_bytes"] == result["upload_bytes"] == LOSSY_SIZE
        # TCP, Noise and multistream round trips, each >= 2 * DELAY_MS: the link was impaired
        assert result["connect_ms"] >= 4 * DELAY_MS
        print(
            f"loss {LOSS} % + {DELAY_MS} ms: connect {result['connect_ms']:.0f} ms, upload "
            f"{result['upload_mb_s']:.3f} MB/s, download {result['download_mb_s']:.3f} MB/s"
        )
