"""The ``node``, ``ping``, ``perf`` and ``id`` commands."""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from typing import Any, Final

import trio
from prometheus_client.registry import CollectorRegistry
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from p2pstack.abc.muxer import StreamMuxer
from p2pstack.cli.autonat import autonat_service, report_reachability
from p2pstack.cli.common import (
    client_node,
    console,
    emit_json,
    load_identity,
    metrics_services,
    node_config,
    ping_rounds,
    report_stats,
    start_metrics,
)
from p2pstack.cli.discover import mdns_service
from p2pstack.cli.request import rr_echo
from p2pstack.cli.security import security_transports
from p2pstack.cli.sizes import format_size
from p2pstack.cli.xmpp import XMPP_PREFIX, cmd_xmpp_ping, node_extras
from p2pstack.compose import open_node
from p2pstack.host.metrics import NodeMetrics
from p2pstack.host.service import Service
from p2pstack.multiaddr import Multiaddr
from p2pstack.muxers.yamux import YamuxConfig, yamux
from p2pstack.protocols.echo import echo
from p2pstack.protocols.identify import identify
from p2pstack.protocols.perf import DEFAULT_WRITE_SIZE, PerfConfig, PerfResult, perf, perf_peer
from p2pstack.protocols.ping import ping

logger: Final = logging.getLogger("p2pstack.cli")

DEFAULT_LISTEN: Final = "/ip4/127.0.0.1/tcp/0"


def node_check(args: argparse.Namespace) -> dict[str, Any]:
    """Validate ``node``'s resolved options (raises ValueError naming the option)."""
    if args.stats_interval is not None and args.stats_interval <= 0:
        raise ValueError("stats-interval must be positive")
    if args.perf_max_bytes < 1:
        raise ValueError("perf-max-bytes must be positive")
    if getattr(args, "autonat_confirmations", 1) < 1:
        raise ValueError("autonat-confirmations must be positive")
    return {}


def protocol_metrics(registry: CollectorRegistry, services: list[Service]) -> list[Service]:
    """Expose the metrics of ``services`` (request-response, UPnP) in ``registry``; the
    services to start after them (peers discovered, when mDNS or XMPP discovery runs)."""
    from p2pstack.protocols.discovery.mdns import MdnsService
    from p2pstack.protocols.discovery.metrics import DiscoveryMetrics, register_discovery_metrics
    from p2pstack.protocols.discovery.xmpp import XmppDiscovery
    from p2pstack.protocols.nat import UpnpService
    from p2pstack.protocols.nat.upnp_metrics import register_upnp_metrics
    from p2pstack.protocols.request_response import RequestResponse
    from p2pstack.protocols.request_response.metrics import register_request_response_metrics

    rr = [s for s in services if isinstance(s, RequestResponse)]
    if rr:
        register_request_response_metrics(registry, *rr)
    for service in services:
        if isinstance(service, UpnpService):
            register_upnp_metrics(service, registry)
    if not any(isinstance(s, MdnsService | XmppDiscovery) for s in services):
        return []
    discovery = DiscoveryMetrics()
    register_discovery_metrics(discovery, registry)
    return [discovery]


async def cmd_node(args: argparse.Namespace) -> int:
    """Run a node serving ping, identify, echo (and perf with ``--perf``) until SIGINT/SIGTERM."""
    listen = args.listen or [DEFAULT_LISTEN]
    node_check(args)
    extras = node_extras(args)  # --xmpp-* / --upnp: discovery and gateway services
    nat = autonat_service(args)  # --autonat / --autonat-server
    extras.services.extend([nat] if nat is not None else [])
    served: list[Service] = [ping(), identify(), echo(), *map(rr_echo, args.rr_echo or [])]
    if args.perf:
        served.append(perf(PerfConfig(max_bytes=args.perf_max_bytes)))
    metrics = NodeMetrics() if args.metrics_addr else None
    services: list[Service] = [
        *metrics_services(metrics),
        *([mdns_service(args.mdns)] if args.mdns else []),
        *extras.services,
    ]
    if metrics is not None:
        services += protocol_metrics(metrics.registry, [*served, *services])
    async with open_node(
        identity=load_identity(args.key),
        config=node_config(args),
        security=security_transports(args),
        protocols=served,
        services=services,
    ) as node:
        for addr in listen:
            await node.listen(Multiaddr(addr))
        for relay in args.relay_via or []:  # listen through a relay: <relay>/p2p-circuit
            relay_addr = Multiaddr(relay)
            if not relay_addr.has_protocol("p2p-circuit"):
                relay_addr = relay_addr.encapsulate("/p2p-circuit")
            await node.listen(relay_addr)
            # ... and dial through it when direct dials fail (with --relay-fallback).
            node.add_dialing_relay(relay_addr.decapsulate("/p2p-circuit"))
        # Handlers first: whoever reads the JSON line may signal us at once.
        with (
            trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
            trio.open_signal_receiver(signal.SIGUSR1) as usr1,
        ):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    report_stats, lambda: {"stats": node.stats()}, args.stats_interval, usr1
                )
                metrics_info = await start_metrics(nursery, metrics, args)
                emit_json(
                    {
                        "peer_id": str(node.peer_id),
                        "listen_addrs": [str(a) for a in node.addrs],
                        "dialing_relays": [str(a) for a in node.dialing_relays],
                        "relay_fallback": node.relay_fallback,
                        **metrics_info,
                    }
                )
                if nat is not None and nat.config.client:
                    nursery.start_soon(report_reachability, node)
                async for signum in signals:
                    logger.info("signal %d received; shutting down", signum)
                    break
                nursery.cancel_scope.cancel()
    return 0


async def cmd_ping(args: argparse.Namespace) -> int:
    """Dial MA, then ping it ``--count`` times."""
    if args.addr.startswith(XMPP_PREFIX):
        return await cmd_xmpp_ping(args)
    target = Multiaddr(args.addr)
    async with client_node(args.key, security=security_transports(args)) as node:
        start = trio.current_time()
        conn = await node.dial(target)
        connect_ms = (trio.current_time() - start) * 1000
        if not args.json:
            console.print(f"connected to [bold]{conn.peer_id}[/] in {connect_ms:.2f} ms")
        rtts = await ping_rounds(node, conn, args, peer=conn.peer_id.short())
        if args.json:
            emit_json({"peer_id": str(conn.peer_id), "connect_ms": connect_ms, "rtts_ms": rtts})
    return 0


def _perf_muxers(args: argparse.Namespace) -> list[StreamMuxer] | None:
    """Yamux with the ``--yamux-*`` settings, or None (the default muxer) without any."""
    settings = {
        "initial_window": args.yamux_window,
        "max_window": args.yamux_max_window,
        "max_frame_size": args.yamux_max_frame,
    }
    given = {name: value for name, value in settings.items() if value is not None}
    return [yamux(YamuxConfig(**given))] if given else None


async def cmd_perf(args: argparse.Namespace) -> int:
    """Run ``--repeat`` perf transfers against MA on one connection."""
    target = Multiaddr(args.addr)
    write_size = args.write_size or DEFAULT_WRITE_SIZE
    results: list[PerfResult] = []
    async with client_node(
        args.key, muxers=_perf_muxers(args), security=security_transports(args)
    ) as node:
        start = trio.current_time()
        conn = await node.dial(target)
        connect_ms = (trio.current_time() - start) * 1000

        async def transfer() -> PerfResult:
            return await perf_peer(
                node,
                conn,
                upload=args.upload,
                download=args.download,
                streams=args.streams,
                write_size=write_size,
            )

        if args.json:
            for _ in range(args.repeat):
                results.append(await transfer())
        else:
            console.print(f"connected to [bold]{conn.peer_id}[/] in {connect_ms:.2f} ms")
            description = (
                f"perf: upload {format_size(args.upload)}, download "
                f"{format_size(args.download)} over {args.streams} stream(s)"
            )
            columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task(description, total=args.repeat)
                for _ in range(args.repeat):
                    results.append(await transfer())
                    progress.advance(task)
    median = _median_run(results)
    if args.json:
        runs = {"runs": [r.to_json() for r in results]} if args.repeat > 1 else {}
        emit_json(
            {"peer_id": str(conn.peer_id), "connect_ms": connect_ms, **median.to_json(), **runs}
        )
        return 0
    label = f"median of {args.repeat}: " if args.repeat > 1 else ""
    if args.upload:
        console.print(
            f"{label}upload   {format_size(median.upload_bytes):>10} in "
            f"{median.upload_seconds:7.3f} s = [bold]{median.upload_mb_s:9.1f} MB/s[/]"
        )
    if args.download:
        console.print(
            f"{label}download {format_size(median.download_bytes):>10} in "
            f"{median.download_seconds:7.3f} s = [bold]{median.download_mb_s:9.1f} MB/s[/]"
        )
    return 0


def _median_run(results: list[PerfResult]) -> PerfResult:
    """The run with the median total time (the middle one; the faster of two middles)."""
    ordered = sorted(results, key=lambda r: r.total_seconds)
    return ordered[(len(ordered) - 1) // 2]


async def cmd_id(args: argparse.Namespace) -> int:
    """Print the peer id of ``--key`` (created on first use) or of a fresh identity."""
    identity = load_identity(args.key)
    if args.json:
        emit_json({"peer_id": str(identity.peer_id)})
    else:
        print(identity.peer_id)
    await trio.lowlevel.checkpoint()
    return 0


def key_path(text: str) -> Path:
    """argparse type for key files."""
    return Path(text).expanduser()
