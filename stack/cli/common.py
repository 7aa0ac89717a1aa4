"""Helpers shared by the CLI commands: node construction, output, signals."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from rich.console import Console

from p2pstack.abc.muxer import StreamMuxer
from p2pstack.abc.security import SecurityTransport
from p2pstack.cli.logs import iso_utc
from p2pstack.compose import open_node
from p2pstack.host.connection import Connection
from p2pstack.host.metrics import NodeMetrics
from p2pstack.host.metrics_server import parse_host_port, serve_metrics
from p2pstack.host.node import Node, NodeConfig
from p2pstack.host.resources import MemoryLimits
from p2pstack.host.service import Service
from p2pstack.identity import Identity

console = Console(highlight=False)


def node_config(args: argparse.Namespace) -> NodeConfig:
    """The node configuration the command line asks for (``--max-memory``,
    ``--relay-fallback``)."""
    fallback = bool(getattr(args, "relay_fallback", False))
    if args.max_memory is None:
        return NodeConfig(relay_fallback=fallback)
    return NodeConfig(memory=MemoryLimits.scaled(args.max_memory), relay_fallback=fallback)


def stamped(data: dict[str, Any], started: float) -> dict[str, Any]:
    """``data`` after ``time`` (now, ISO 8601 UTC) and ``uptime_s`` (since ``started``, a
    ``trio.current_time()``), as every stats line carries them."""
    uptime = round(trio.current_time() - started, 3)
    return {"time": iso_utc(time.time()), "uptime_s": uptime, **data}


async def report_stats(
    stats: Callable[[], dict[str, Any]], interval: float | None, usr1: AsyncIterator[int]
) -> None:
    """Print ``stats()`` as a JSON line, :func:`stamped` from when this starts, on each
    SIGUSR1 (``usr1``) and every ``interval`` seconds (None: only on the signal). Runs until
    cancelled."""
    started = trio.current_time()

    async def on_signal() -> None:
        async for _ in usr1:
            emit_json(stamped(stats(), started))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(on_signal)
        while interval:
            await trio.sleep(interval)
            emit_json(stamped(stats(), started))


def emit_json(data: dict[str, Any]) -> None:
    """Print one JSON line on stdout and flush it (scripts read it line by line)."""
    sys.stdout.write(json.dumps(data, separators=(", ", ": ")) + "\n")
    sys.stdout.flush()


async def ping_rounds(
    node: Node, conn: Connection, args: argparse.Namespace, *, peer: str
) -> list[float]:
    """``ping``'s loop: ``--count`` pings ``--interval`` apart over one ping stream, each
    printed (unless ``--json``) as coming from ``peer``; the round-trip times in ms."""
    from p2pstack.protocols.ping import Pinger

    rtts: list[float] = []
    async with Pinger(node, conn, ping_timeout=args.timeout) as pinger:
        for index in range(args.count):
            if index and args.interval:
                await trio.sleep(args.interval)
            rtt = await pinger.ping()
            rtts.append(rtt * 1000)
            if not args.json:
                console.print(f"pong from {peer}: time={rtt * 1000:.3f} ms")
    if not args.json:
        console.print(
            f"{len(rtts)} pings: min {min(rtts):.3f} / median "
            f"{statistics.median(rtts):.3f} / max {max(rtts):.3f} ms"
        )
    return rtts


def load_identity(key: Path | None) -> Identity:
    """The identity in ``key`` (created on first use), or a fresh one."""
    return Identity.load_or_create(key) if key is not None else Identity.generate()


def client_protocols() -> list[Service]:
    """What a short-lived client node serves: ping and identify, so peers can identify us."""
    from p2pstack.protocols.identify import identify
    from p2pstack.protocols.ping import ping

    return [ping(), identify()]


@asynccontextmanager
async def client_node(
    key: Path | None = None,
    protocols: Sequence[Service] | None = None,
    services: Sequence[Service] = (),
    muxers: Sequence[StreamMuxer] | None = None,
    security: Sequence[SecurityTransport] | None = None,
) -> AsyncIterator[Node]:
    """A node that dials but does not listen (protocols: :func:`client_protocols` when None;
    muxers and security: open_node's defaults when None)."""
    async with open_node(
        identity=load_identity(key),
        protocols=list(protocols) if protocols is not None else client_protocols(),
        services=services,
        muxers=muxers,
        security=security,
    ) as node:
        yield node


def add_metrics_argument(parser: argparse.ArgumentParser) -> None:
    """``--metrics-addr HOST:PORT``: serve Prometheus ``/metrics`` and ``/healthz`` there."""

    def host_port(text: str) -> str:  # kept as text: config files and --print-config
        try:
            parse_host_port(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    parser.add_argument(
        "--metrics-addr",
        type=host_port,
        metavar="HOST:PORT",
        help="serve Prometheus metrics (/metrics) and a health check (/healthz) on this"
        " address (off by default; port 0 picks one, printed as metrics_addr)",
    )


def metrics_services(metrics: NodeMetrics | None) -> list[Service]:
    """The services to put first in a node's list for ``metrics`` (none when off)."""
    return [metrics] if metrics is not None else []


async def start_metrics(
    nursery: trio.Nursery, metrics: NodeMetrics | None, args: argparse.Namespace
) -> dict[str, str]:
    """Serve ``metrics`` on ``--metrics-addr`` in ``nursery`` (it stops when the nursery is
    cancelled); the start-up JSON's ``metrics_addr`` entry, or nothing when off."""
    if metrics is None or args.metrics_addr is None:
        return {}
    wanted_host, wanted_port = parse_host_port(args.metrics_addr)
    host, port = await nursery.start(serve_metrics, metrics.registry, wanted_host, wanted_port)
    shown = f"[{host}]" if ":" in host else host
    return {"metrics_addr": f"{shown}:{port}"}
