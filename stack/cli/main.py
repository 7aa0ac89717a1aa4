"""Entry point of the ``p2pstack`` console script."""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

import trio

from p2pstack.cli.allocator import tune_allocator
from p2pstack.cli.autonat import add_autonat_arguments
from p2pstack.cli.bench import add_bench_arguments, cmd_bench
from p2pstack.cli.commands import cmd_id, cmd_node, cmd_perf, cmd_ping, key_path, node_check
from p2pstack.cli.common import add_metrics_argument
from p2pstack.cli.config_file import (
    CommandParser,
    ConfigError,
    add_config_arguments,
    effective,
    render,
    resolve,
)
from p2pstack.cli.dcutr import add_dcutr_arguments
from p2pstack.cli.demo import cmd_demo
from p2pstack.cli.discover import add_discover_arguments, cmd_discover
from p2pstack.cli.logs import LOG_FORMATS, setup_logging
from p2pstack.cli.relay import add_relay_arguments, cmd_relay, relay_check
from p2pstack.cli.request import add_request_arguments, cmd_request
from p2pstack.cli.security import add_security_argument
from p2pstack.cli.sizes import parse_size
from p2pstack.cli.xmpp import add_xmpp_arguments
from p2pstack.errors import LimitExceeded, NegotiationFailed, StackError
from p2pstack.protocols.perf import PERF_PROTOCOL

Command = Callable[[argparse.Namespace], Awaitable[int]]


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def package_version() -> str:
    """The installed distribution's version; ``unknown`` when p2pstack runs uninstalled (from a
    checkout on ``PYTHONPATH``)."""
    try:
        return importlib.metadata.version("p2pstack")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _logging_arguments(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``-v`` and ``--log-format``, before the command (``top``) or after it."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="more logs on stderr (-v: info, -vv: debug)",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text" if top else argparse.SUPPRESS,
        help="log lines as text (default) or one JSON object per line",
    )


def build_parser() -> CommandParser:
    """The argument parser of every subcommand."""
    parser = CommandParser(
        prog="p2pstack",
        description="A libp2p-compatible peer-to-peer node (TCP, Noise, Yamux) for Python.",
    )
    _logging_arguments(parser, top=True)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Command, help_text: str) -> CommandParser:
        cmd: CommandParser = sub.add_parser(name, help=help_text, description=help_text)
        cmd.set_defaults(fn=fn)
        _logging_arguments(cmd, top=False)
        return cmd

    node = add("node", cmd_node, "run a node serving ping, identify and echo (perf with --perf)")
    node.add_argument(
        "--listen",
        action="append",
        metavar="MA",
        help="multiaddr to listen on (repeatable; default /ip4/127.0.0.1/tcp/0)",
    )
    node.add_argument("--key", type=key_path, help="identity key file (created on first use)")
    node.add_argument(
        "--max-memory",
        type=_size,
        metavar="SIZE",
        help="memory budget for what peers make the node hold (windows, buffers, bodies;"
        " default: a quarter of RAM, at most 1G)",
    )
    node.add_argument(
        "--stats-interval",
        type=float,
        metavar="S",
        help="print a JSON stats line (connections, memory, refusals, faults) every S seconds;"
        " one is also printed on SIGUSR1",
    )
    node.add_argument(
        "--relay-via",
        action="append",
        metavar="MA",
        help="also listen through this relay (<relay addr>/p2p/<relay id>; repeatable); it is"
        " also a dialing relay for --relay-fallback",
    )
    node.add_argument(
        "--mdns",
        nargs="?",
        const="*",
        metavar="IP[,IP...]",
        help="advertise and discover peers with mDNS (on these interface addresses; default all)",
    )
    node.add_argument(
        "--rr-echo",
        action="append",
        metavar="PROTOCOL",
        help='also serve JSON request-response on PROTOCOL, answering {"echo": <request>}',
    )
    node.add_argument(
        "--perf",
        action="store_true",
        help="serve perf (/perf/1.0.0) to any peer: off by default, as the perf spec asks",
    )
    node.add_argument(
        "--perf-max-bytes",
        type=_size,
        default=1 << 30,
        metavar="SIZE",
        help="with --perf: most bytes one perf request may upload or ask for (default 1G)",
    )
    node.add_argument(
        "--relay-fallback",
        action="store_true",
        help="retry dials whose direct addresses all failed through the node's dialing relays"
        " (the --relay-via relays; NodeConfig.relay_fallback; off by default)",
    )
    add_metrics_argument(node)
    add_security_argument(node)
    add_autonat_arguments(node)
    add_dcutr_arguments(node)

    add_xmpp_arguments(node)
    add_config_arguments(node, node_check)

    ping = add("ping", cmd_ping, "dial a peer and measure ping round trips")
    ping.add_argument(
        "addr", metavar="MA", help="multiaddr of the peer (.../p2p/12D3KooW...) or xmpp:JID"
    )
    ping.add_argument("--count", type=int, default=5, help="number of pings (default 5)")
    ping.add_argument("--interval", type=float, default=0.0, help="seconds between pings")
    ping.add_argument("--timeout", type=float, default=10.0, help="seconds to wait per ping")
    ping.add_argument("--key", type=key_path, help="identity key file")
    ping.add_argument("--json", action="store_true", help="one JSON line on stdout")
    add_security_argument(ping)
    add_xmpp_arguments(ping, client=True)
    add_dcutr_arguments(ping)

    perf = add("perf", cmd_perf, "measure throughput against a peer serving /perf/1.0.0")
    perf.add_argument("addr", metavar="MA")
    perf.add_argument("--upload", type=_size, default=0, help="bytes to upload (K/M/G)")
    perf.add_argument("--download", type=_size, default=0, help="bytes to download (K/M/G)")
    perf.add_argument("--streams", type=int, default=1, help="concurrent streams (default 1)")
    perf.add_argument(
        "--write-size", type=_size, default=None, help="bytes per write when uploading (256K)"
    )
    perf.add_argument(
        "--repeat", type=int, default=1, help="transfers on one connection; the median is shown"
    )
    perf.add_argument("--yamux-window", type=_size, help="Yamux initial receive window (256K)")
    perf.add_argument("--yamux-max-window", type=_size, help="Yamux auto-tuned window cap (16M)")
    perf.add_argument("--yamux-max-frame", type=_size, help="Yamux largest data frame (64K)")
    perf.add_argument("--key", type=key_path, help="identity key file")
    perf.add_argument("--json", action="store_true", help="one JSON line on stdout")
    add_security_argument(perf)

    request = add("request", cmd_request, "send one JSON request-response request to a peer")
    add_request_arguments(request)

    discover = add("discover", cmd_discover, "list the peers found on the local network")
    add_discover_arguments(discover)

    relay = add("relay", cmd_relay, "run a circuit relay v2 server")
    add_relay_arguments(relay, _size, key_path)
    add_security_argument(relay)
    add_config_arguments(relay, relay_check)

    ident = add("id", cmd_id, "print the peer id of a key file (created on first use)")
    ident.add_argument("--key", type=key_path, help="identity key file")
    ident.add_argument("--json", action="store_true", help="one JSON line on stdout")

    demo = add("demo", cmd_demo, "two local nodes: connect, identify, ping and perf")
    demo.add_argument("--size", type=_size, default=256 << 20, help="perf bytes each way")
    demo.add_argument("--pings", type=int, default=10, help="number of pings")
    demo.add_argument("--json", action="store_true", help="one JSON line on stdout")

    add_bench_arguments(add("bench", cmd_bench, "measure throughput, latency and memory"))
    return parser


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name in ("count", "streams", "pings"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")
    if args.command == "perf" and not (args.upload or args.download):
        parser.error("give --upload and/or --download (a size, e.g. 16M)")
    if args.command == "perf" and (args.repeat < 1 or args.streams < 1):
        parser.error("--repeat and --streams must be at least 1")
    if args.command == "perf" and args.write_size is not None and args.write_size < 1:
        parser.error("--write-size must be positive")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (errors are one line on stderr, never a traceback)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    if hasattr(args, "config_parser"):  # node, relay: --config file and P2PSTACK_* variables
        try:
            args = resolve(parser, argv, args, os.environ)
        except ConfigError as exc:
            print(f"p2pstack {args.command}: config error: {exc}", file=sys.stderr)
            return 2
        if args.print_config:
            sys.stdout.write(render(effective(args), as_json=args.json))
            return 0
    setup_logging(args.verbose, args.log_format)
    tune_allocator()
    gc.freeze()  # start-up objects (imports, parser) stay: keep them out of collections
    try:
        status: int = trio.run(args.fn, args)
    except KeyboardInterrupt:
        return 130
    except (StackError, OSError, ValueError, trio.BrokenResourceError) as exc:
        print(f"p2pstack {args.command}: error: {_message(exc)}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:
        leaf = _first_leaf(group)
        print(f"p2pstack {args.command}: error: {_message(leaf)}", file=sys.stderr)
        return 1
    return status


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _message(exc: BaseException) -> str:
    """What the CLI user reads: library advice they cannot follow is replaced by theirs."""
    if isinstance(exc, LimitExceeded) and exc.limit == "connection.limited":
        first = _one_line(exc).split(";")[0]
        return (
            f"{first}: the relay limits its circuits' time and data, so only ping and identify"
            " run over them; use a relay started with `p2pstack relay --profile bulk`"
        )
    if isinstance(exc, NegotiationFailed) and PERF_PROTOCOL in exc.protocols:
        return f"{_one_line(exc)} (a p2pstack node serves perf only when started with --perf)"
    return _one_line(exc)


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
