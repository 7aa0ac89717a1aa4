"""Roles of the ``scale`` case: a listener holding many idle connections, clients that dial
them in steps, and a stream-rate client; every limit off, the fd limit raised."""

from __future__ import annotations

import resource
import time
import tracemalloc
from contextlib import suppress

import trio

from p2pstack.abc.muxer import StreamMuxer
from p2pstack.benchmarks.worker.common import Control, Params, emit, memory_probe
from p2pstack.benchmarks.worker.memory import unlimited_node_config
from p2pstack.compose import open_node
from p2pstack.errors import StackError
from p2pstack.host.connection import Connection
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.muxers.yamux import YamuxConfig, yamux
from p2pstack.protocols.echo import ECHO_PROTOCOL, echo
from p2pstack.protocols.perf import perf, perf_peer
from p2pstack.protocols.ping import PING_PROTOCOL, ping
from p2pstack.transports.tcp import TcpConfig, tcp

#: Streams a scale node accepts on one connection (the stream-rate step goes up to 1,000).
MAX_STREAMS = 4096


def raise_fd_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard one; return it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def cpu_seconds() -> float:
    """User + system CPU time of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _muxers(params: Params) -> list[StreamMuxer]:
    """Yamux with room for the stream-rate step; keepalive pings unless ``keepalive`` is
    false (the default 10 s interval costs CPU per idle connection: see the case)."""
    interval = YamuxConfig().keepalive_interval if params.get("keepalive", True) else None
    config = YamuxConfig(
        max_streams=MAX_STREAMS, accept_backlog=MAX_STREAMS, keepalive_interval=interval
    )
    return [yamux(config)]


async def scale_server(params: Params, control: Control) -> None:
    """Listen; on each "measure [N]" line, once N connections are held, print RSS, traced
    bytes, CPU seconds and the connection count.

    Every connection comes from one of a few client peers, so all but one per peer are
    duplicates the node would close after ``SUPERSEDED_GRACE``: the listener marks each
    ``keep_alive`` as it opens (so do the clients), which holds them as if they came from
    distinct peers (without the per-peer records distinct peers would add).

    Multi-core (``reuse_port``): listen with ``TcpConfig(reuse_port=True)`` on ``port`` (0:
    a fresh one) with the identity of the hex Ed25519 ``seed``, so several such processes
    share one address; ``perf`` adds the perf protocol for the throughput step.
    """
    raise_fd_limit()
    if params.get("trace"):
        tracemalloc.start()
    seed = params.get("seed")
    async with open_node(
        identity=Identity.from_ed25519_seed(bytes.fromhex(seed)) if seed else None,
        listen=[f"/ip4/127.0.0.1/tcp/{params.get('port', 0)}"],
        transports=[tcp(TcpConfig(reuse_port=bool(params.get("reuse_port"))))],
        muxers=_muxers(params),
        protocols=[ping(), echo(), *([perf()] if params.get("perf") else [])],
        config=unlimited_node_config(),
    ) as node:
        changed = trio.Event()

        def keep_alive(conn: Connection) -> None:
            nonlocal changed
            conn.keep_alive = True
            changed.set()
            changed = trio.Event()

        node.add_connection_callback(keep_alive)
        emit({"addr": str(node.addrs[0])})
        while True:
            command, _, arg = (await control.next_line()).partition(" ")
            if command == "measure":
                # A dialler is done before the listener has read Noise's third message: wait
                # until the listener holds the connections the clients reported.
                while len(node.connections) < int(arg or 0):
                    await changed.wait()
                cpu = cpu_seconds()  # before the probe's full collection...
                probe = memory_probe()
                # ...and after it: an idle window starts there, not counting that collection
                # (a full collection of 10,000 connections' objects takes a second or more).
                emit(
                    {
                        **probe,
                        "cpu": cpu,
                        "cpu_after": cpu_seconds(),
                        "conns": len(node.connections),
                    }
                )


async def scale_client(params: Params, control: Control) -> None:
    """On "hold N": dial until N connections are held (``concurrency`` dials in flight, each
    done once a first stream was negotiated on it), then print the seconds it took; on
    "close": close them all."""
    raise_fd_limit()
    bare = Multiaddr(params["addr"]).without_peer_id()  # every dial is a new connection
    held: list[Connection] = []
    async with open_node(
        muxers=_muxers(params),
        protocols=[ping()],
        config=unlimited_node_config(),
    ) as node:
        emit({"ready": True})
        while True:
            command, _, arg = (await control.next_line()).partition(" ")
            if command == "hold":
                want = int(arg)
                start = time.perf_counter()
                limiter = trio.Semaphore(params.get("concurrency", 8))

                failures = 0

                async def one(limiter: trio.Semaphore = limiter) -> None:
                    nonlocal failures
                    async with limiter:
                        for _ in range(5):  # an overloaded listener may drop a few
                            try:
                                conn = await open_one()
                            except (StackError, trio.BrokenResourceError, OSError):
                                failures += 1
                                continue
                            conn.keep_alive = True  # see scale_server
                            conn.touch()
                            held.append(conn)
                            return

                async def open_one() -> Connection:
                    conn = await node.dial(bare)
                    # The dialler is done before the listener has read Noise's third message;
                    # a first stream proves the listener has the connection (and keeps a
                    # loaded listener's backlog under its handshake timeout).
                    await (await conn.new_stream(PING_PROTOCOL)).aclose()
                    return conn

                async with trio.open_nursery() as nursery:
                    for _ in range(want - len(held)):
                        nursery.start_soon(one)
                live = len({id(c) for c in held if not c.is_closed})
                seconds = time.perf_counter() - start
                emit({"held": len(held), "live": live, "failures": failures, "seconds": seconds})
            elif command == "close":
                for conn in held:
                    with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                        await conn.aclose()
                held.clear()
                emit({"held": 0})


async def _echo_byte(conn: Connection) -> None:
    stream = await conn.new_stream(ECHO_PROTOCOL)
    try:
        await stream.send_all(b"x")
        if await stream.receive_exactly(1) != b"x":
            raise RuntimeError("echo answered with a different byte")
    finally:
        await stream.aclose()


async def stream_rates(params: Params, control: Control) -> None:
    """Streams/s (open, negotiate echo, one byte there and back, close) on one connection
    with 1, 10, 100, ... tasks at once (``concurrency``), ``per_task`` streams each (at least
    ``minimum`` in all)."""
    async with open_node(
        muxers=_muxers(params),
        protocols=[ping()],
        config=unlimited_node_config(),
    ) as node:
        conn = await node.dial(Multiaddr(params["addr"]))
        await _echo_byte(conn)
        rates: dict[str, float] = {}
        for tasks in params["concurrency"]:
            each = max(params["per_task"], -(-params["minimum"] // tasks))

            async def worker(count: int) -> None:
                for _ in range(count):
                    await _echo_byte(conn)

            start = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for _ in range(tasks):
                    nursery.start_soon(worker, each)
            rates[str(tasks)] = tasks * each / (time.perf_counter() - start)
    emit({"rates": rates})


async def upload_client(params: Params, control: Control) -> None:
    """Dial ``addr``, print that it is ready; on "go", upload ``total`` bytes with perf over
    one stream and print the wall-clock start and end (so the parent can take the
    aggregate rate of several clients over the span they really overlapped)."""
    async with open_node(protocols=[ping()]) as node:
        conn = await node.dial(Multiaddr(params["addr"]))
        emit({"ready": True})
        await control.next_line()
        start = time.time()
        await perf_peer(node, conn, upload=params["total"], download=0, write_size=256 * 1024)
        emit({"start": start, "end": time.time()})
