"""The ``relay`` command: run a circuit relay v2 server."""

from __future__ import annotations

import argparse
import logging
import signal
from dataclasses import asdict, replace
from functools import partial
from typing import Any, Final

import trio

from p2pstack.cli.common import (
    add_metrics_argument,
    emit_json,
    load_identity,
    metrics_services,
    node_config,
    report_stats,
    stamped,
    start_metrics,
)
from p2pstack.cli.security import security_transports
from p2pstack.compose import open_node
from p2pstack.host.metrics import NodeMetrics
from p2pstack.host.node import Node
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping
from p2pstack.protocols.relay import RelayConfig, RelayService, relay_server
from p2pstack.protocols.relay.config import RateLimit
from p2pstack.protocols.relay.metrics import register_relay_metrics

logger: Final = logging.getLogger("p2pstack.cli")

DEFAULT_LISTEN: Final = "/ip4/0.0.0.0/tcp/4001"

_LIMIT_FLAGS: Final = (
    ("reservation_ttl", float, "S", "reservation lifetime in seconds (default 3600)"),
    ("max_reservations", int, "N", "reservations in total (default 128; bulk 32)"),
    ("max_reservations_per_ip", int, "N", "reservations per IP address (default 8; bulk 4)"),
    ("circuit_duration", int, "S", "per-circuit duration limit, 0 = none (default 120; bulk 0)"),
    ("max_circuits", int, "N", "circuits in total (default 1024; bulk 64)"),
    ("max_circuits_per_peer", int, "N", "circuits per peer (default 16; bulk 8)"),
    ("max_circuits_per_ip", int, "N", "circuits per source IP (default 64; bulk 16)"),
    ("request_timeout", float, "S", "seconds a client has to send its hop request (default 60)"),
    ("stop_timeout", float, "S", "seconds the destination has to accept a circuit (default 30)"),
)
_RATE_FLAGS: Final = (
    ("peer_rate", "hop requests (reserve, connect) per source peer (default 60:60)"),
    ("ip_rate", "hop requests per source IP address (default 240:240)"),
)
_RATE_NAMES: Final = tuple(name for name, _ in _RATE_FLAGS)


def rate_limit(text: str) -> RateLimit | None:
    """``PER_MINUTE[:BURST]`` (burst defaults to the per-minute rate) or ``off`` (None)."""
    if text.strip().lower() == "off":
        return None
    per_minute, _, burst = text.partition(":")
    rate = float(per_minute)
    return RateLimit(burst=int(burst) if burst else max(1, int(rate)), per_minute=rate)


def parse_rate(text: str) -> str:
    """argparse type of ``--peer-rate``/``--ip-rate``: the rate's canonical text."""
    try:
        return format_rate(rate_limit(text))
    except (ValueError, OverflowError) as exc:  # InvalidConfigError is a ValueError
        raise argparse.ArgumentTypeError(
            f"invalid rate {text!r} (expected PER_MINUTE[:BURST], e.g. 60 or 120:30, or off)"
        ) from exc


def format_rate(rate: RateLimit | None) -> str:
    """The ``--peer-rate`` text of ``rate`` (:func:`parse_rate` reads it back)."""
    return "off" if rate is None else f"{rate.per_minute:g}:{rate.burst}"


def add_relay_arguments(parser: argparse.ArgumentParser, size: Any, key: Any) -> None:
    """The ``relay`` command's options (``size`` and ``key`` are argparse types)."""
    parser.add_argument(
        "--max-memory",
        type=size,
        metavar="SIZE",
        help="memory budget for what peers make the relay hold (circuit buffers, windows;"
        " default: a quarter of RAM, at most 1G)",
    )
    parser.add_argument(
        "--listen",
        action="append",
        metavar="MA",
        help=f"multiaddr to listen on (repeatable; default {DEFAULT_LISTEN})",
    )
    parser.add_argument("--key", type=key, help="identity key file (created on first use)")
    parser.add_argument(
        "--profile",
        choices=("default", "bulk"),
        default="default",
        help="default: 2 min / 128 KiB per circuit like other libp2p relays; bulk: no "
        "per-circuit limit, fewer reservations and circuits (see protocols/relay/config.py)",
    )
    for name, kind, metavar, help_text in _LIMIT_FLAGS:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, dest=name, type=kind, metavar=metavar, help=help_text)
    parser.add_argument(
        "--circuit-data",
        type=size,
        metavar="SIZE",
        help="per-circuit data limit per direction (K/M/G), 0 = none (default 128K; bulk 0)",
    )
    parser.add_argument(
        "--copy-buffer",
        type=size,
        metavar="SIZE",
        help="largest copy step of a circuit (default 64K; bulk 1M)",
    )
    for name, help_text in _RATE_FLAGS:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, dest=name, type=parse_rate, metavar="RATE", help=help_text)
    parser.add_argument(
        "--allow-peer",
        action="append",
        metavar="PEER_ID",
        help="only these peers may reserve (repeatable; default: anyone)",
    )
    parser.add_argument(
        "--announce",
        action="append",
        metavar="MA",
        help="address to put in reservations instead of the listen addresses (repeatable)",
    )
    parser.add_argument(
        "--stats-interval",
        type=float,
        metavar="S",
        help="print a JSON stats line every S seconds (one is also printed on SIGUSR1)",
    )
    add_metrics_argument(parser)


def relay_config(args: argparse.Namespace) -> RelayConfig:
    """The RelayConfig the command line asks for."""
    base = RelayConfig.bulk() if args.profile == "bulk" else RelayConfig()
    changes: dict[str, Any] = {}
    for name, *_ in _LIMIT_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    for name in ("circuit_data", "copy_buffer"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    for name, _ in _RATE_FLAGS:
        if getattr(args, name) is not None:
            changes[name] = rate_limit(getattr(args, name))
    if args.allow_peer:
        changes["allow_peers"] = frozenset(PeerId.from_string(p) for p in args.allow_peer)
    return replace(base, **changes)


def relay_check(args: argparse.Namespace) -> dict[str, Any]:
    """Validate ``relay``'s resolved options (raises ValueError / InvalidConfigError naming
    the option); the profile's values of the limits left unset, for ``--print-config``."""
    if args.stats_interval is not None and args.stats_interval <= 0:
        raise ValueError("stats-interval must be positive")
    config = relay_config(args)
    shown = {k: v for k, v in limits_json(config).items() if k not in _RATE_NAMES}
    shown.update({name: format_rate(getattr(config, name)) for name in _RATE_NAMES})
    return shown


def limits_json(config: RelayConfig) -> dict[str, Any]:
    """The limits of ``config`` for the start-up line (rates as ``{burst, per_minute}``)."""
    return {k: v for k, v in asdict(config).items() if k != "allow_peers"}


def _stats(service: RelayService, node: Node) -> dict[str, Any]:
    return {"stats": {**service.metrics.snapshot(), "node": node.stats()}}


async def cmd_relay(args: argparse.Namespace) -> int:
    """Run a relay until SIGINT/SIGTERM; log reservations and circuits, report counters."""
    if args.stats_interval is not None and args.stats_interval <= 0:
        raise ValueError("--stats-interval must be positive")
    if args.verbose == 0:
        logging.getLogger("p2pstack.relay").setLevel(logging.INFO)
    config = relay_config(args)
    if args.key is None:
        logger.warning(
            "no --key: this relay's peer id is new and changes on every restart, breaking its"
            " clients' relay addresses; give --key FILE (created on first use) to keep it"
        )
    announce = [Multiaddr(a) for a in args.announce or []]
    service = relay_server(config, public_addrs=announce or None)
    metrics = NodeMetrics() if args.metrics_addr else None
    if metrics is not None:
        register_relay_metrics(service.metrics, metrics.registry)
    async with open_node(
        identity=load_identity(args.key),
        security=security_transports(args),
        protocols=[ping(), identify()],
        services=[*metrics_services(metrics), service],
        config=node_config(args),
    ) as node:
        started = trio.current_time()
        for addr in args.listen or [DEFAULT_LISTEN]:
            await node.listen(Multiaddr(addr))
        # Signal handlers first: whoever reads the JSON line may signal us at once.
        with (
            trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as stop,
            trio.open_signal_receiver(signal.SIGUSR1) as usr1,
        ):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    report_stats, partial(_stats, service, node), args.stats_interval, usr1
                )
                metrics_info = await start_metrics(nursery, metrics, args)
                emit_json(
                    {
                        "peer_id": str(node.peer_id),
                        "listen_addrs": [str(a) for a in node.addrs],
                        "profile": args.profile,
                        "limits": limits_json(config),
                        **metrics_info,
                    }
                )
                async for signum in stop:
                    logger.info("signal %d received; shutting down", signum)
                    break
                nursery.cancel_scope.cancel()
        emit_json(stamped(_stats(service, node), started))
    return 0
