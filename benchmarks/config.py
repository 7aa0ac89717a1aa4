"""What a benchmark run measures: sizes, repetitions, stream counts and cases (and the flags)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

from p2pstack.cli.sizes import format_size, parse_size

KiB: Final = 1 << 10
MiB: Final = 1 << 20
GiB: Final = 1 << 30

#: Every case, in the order a run measures them.
CASES: Final = (
    "ceiling",
    "matrix",
    "headline",
    "websocket",
    "quic",
    "relay",
    "latency",
    "memory",
    "js",
    "py",
    "go",
    "security",
    "dial",
    "scale",
)


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """The settings of one run (defaults: the full run of a few minutes)."""

    size: int = 64 * MiB
    """Bytes per transfer in the stream-count x write-size matrix."""
    large: int = 1 * GiB
    """Bytes per transfer for the ceiling, the headline and the js/py/go comparisons."""
    repeat: int = 3
    """Transfers per figure (the median is reported)."""
    stream_counts: tuple[int, ...] = (1, 16, 128)
    write_sizes: tuple[int, ...] = (16 * KiB, 64 * KiB, 256 * KiB)
    headline_streams: tuple[int, ...] = (1, 16)
    pings: int = 200
    connects: int = 30
    stream_rate: int = 1000
    concurrency: int = 16
    memory_count: int = 1000
    cases: tuple[str, ...] = CASES
    case_timeout: float = 900.0
    server_metrics: bool = False
    """Start the ``p2pstack node`` server of the headline with Prometheus metrics on
    (``--metrics-addr``, byte counting by protocol included): the cost of metrics."""

    def __post_init__(self) -> None:
        for name in ("size", "large", "repeat", "pings", "connects", "stream_rate"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.concurrency < 1 or self.memory_count < 1:
            raise ValueError("concurrency and memory count must be at least 1")
        if not self.stream_counts or min(self.stream_counts) < 1:
            raise ValueError("stream counts must be positive")
        if not self.write_sizes or min(self.write_sizes) < 1:
            raise ValueError("write sizes must be positive")
        unknown = set(self.cases) - set(CASES)
        if unknown:
            raise ValueError(f"unknown case(s) {sorted(unknown)}; known: {', '.join(CASES)}")

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON-ready values."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    def describe(self) -> str:
        """One line for the report."""
        return (
            f"matrix {format_size(self.size)}, large {format_size(self.large)}, "
            f"{self.repeat} repetition(s), streams {list(self.stream_counts)}, writes "
            f"{[format_size(w) for w in self.write_sizes]}"
        )


#: The CI mode: every case, tiny sizes, a single repetition (seconds, not minutes).
QUICK: Final = BenchConfig(
    size=4 * MiB,
    large=16 * MiB,
    repeat=1,
    stream_counts=(1, 16),
    write_sizes=(64 * KiB,),
    pings=20,
    connects=3,
    stream_rate=50,
    concurrency=4,
    memory_count=50,
    case_timeout=180.0,
)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(parse_size(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers: {text!r}") from exc


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in CASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown case(s) {unknown}; known: {', '.join(CASES)}")
    return names


def _size(text: str) -> int:
    (value,) = _sizes(text) or (0,)
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the benchmark flags (``python -m p2pstack.benchmarks`` and ``p2pstack bench``)."""
    parser.epilog = (
        "The js, py and go cases run the peer programs of a p2pstack source checkout (found when"
        " running from one, else set P2PSTACK_CHECKOUT to one); without it they are skipped."
        " The PNG chart needs matplotlib: pip install 'p2pstack[charts]'."
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes, one repetition (what CI runs)")
    add("--size", type=_size, help="bytes per matrix transfer (default 64M)")
    add("--large", type=_size, help="bytes for ceiling/headline/peer transfers (default 1G)")
    add("--repeat", type=int, help="transfers per figure, median reported (default 3)")
    add("--stream-counts", type=_ints, metavar="N,N", help="concurrent streams (default 1,16,128)")
    add("--write-sizes", type=_sizes, metavar="S,S", help="write sizes (default 16K,64K,256K)")
    add("--pings", dest="ping_count", type=int, help="ping round trips (default 200)")
    add("--connects", type=int, help="fresh connections timed (default 30)")
    add("--stream-rate", type=int, help="streams opened for the rate (default 1000)")
    add("--memory-count", type=int, help="idle connections/streams held (default 1000)")
    add("--cases", type=_names, metavar="A,B", help=f"only these cases ({','.join(CASES)})")
    add("--skip", type=_names, metavar="A,B", default=(), help="cases to leave out")
    add("--case-timeout", type=float, help="seconds one case may take (default 900)")
    add(
        "--server-metrics",
        action="store_true",
        default=None,
        help="run the headline's p2pstack node server with --metrics-addr (metrics cost)",
    )
    add("--output", type=Path, help="JSON file (default bench-results/bench-<time>.json)")
    chart = parser.add_mutually_exclusive_group()
    chart.add_argument(
        "--chart",
        type=Path,
        metavar="PNG",
        help="the PNG chart (default: beside the JSON file; with --from-json: only when given)",
    )
    chart.add_argument("--no-chart", action="store_true", help="do not write the PNG chart")
    add("--json", action="store_true", help="print the JSON document on stdout")
    add(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="print a recorded run (and draw its chart with --chart); measure nothing",
    )
    add("--markdown", action="store_true", help="with --from-json: Markdown tables")


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """Build the config from parsed flags (``--quick`` changes the defaults)."""
    base = QUICK if args.quick else BenchConfig()
    overrides: dict[str, Any] = {
        "size": args.size,
        "large": args.large,
        "repeat": args.repeat,
        "stream_counts": args.stream_counts,
        "write_sizes": args.write_sizes,
        "pings": args.ping_count,
        "connects": args.connects,
        "stream_rate": args.stream_rate,
        "memory_count": args.memory_count,
        "case_timeout": args.case_timeout,
        "server_metrics": args.server_metrics,
    }
    chosen = {key: value for key, value in overrides.items() if value is not None}
    cases = args.cases if args.cases is not None else base.cases
    chosen["cases"] = tuple(case for case in cases if case not in set(args.skip))
    return replace(base, **chosen)
