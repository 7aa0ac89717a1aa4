"""Command line of the soak run."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio

from p2pstack.benchmarks.soak.chart import write_chart
from p2pstack.benchmarks.soak.run import Soak, SoakConfig

DESCRIPTION = """\
Run a p2pstack node and a relay (child processes on 127.0.0.1) for --minutes under honest
traffic (pings over a kept connection, fresh connections, request-response via --rr-echo,
relayed pings, perf) and attacks (connect+RST loop, silent connections, half-done Noise
handshakes, echo streams never read, ping floods). Every --sample seconds it records the
children's RSS and open fds and the honest latency percentiles, prints a progress line and
rewrites OUT/soak.json; at the end it draws OUT/soak.png. Exit status 0 when both children
survived and under 1 % of the honest operations failed."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=DESCRIPTION)
    parser.add_argument("--minutes", type=float, default=30.0, help="duration (default 30)")
    parser.add_argument(
        "--sample", type=float, default=None, help="seconds between samples (default: 10, or "
        "a twentieth of the run when shorter)"
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default bench-results/soak-TIME)"
    )
    parser.add_argument("--no-attacks", action="store_true", help="honest traffic only")
    parser.add_argument("--silent", type=int, default=16, help="silent connections (16)")
    parser.add_argument("--partial", type=int, default=16, help="half handshakes held (16)")
    parser.add_argument("--rst-rate", type=float, default=20.0, help="connect+RST per s (20)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.minutes > 0:
        raise SystemExit("--minutes must be positive")
    sample = args.sample or min(10.0, args.minutes * 60 / 20)
    out = args.out or Path("bench-results") / time.strftime("soak-%Y%m%d-%H%M%S")
    config = SoakConfig(
        minutes=args.minutes,
        sample=sample,
        out=out,
        attacks=not args.no_attacks,
        silent=args.silent,
        partial=args.partial,
        rst_rate=args.rst_rate,
    )
    print(f"soak: {args.minutes:g} min, a sample every {sample:g} s, results in {out}/")
    result = trio.run(Soak(config).run)
    summary: dict[str, Any] = result["summary"]
    try:
        write_chart(result, out / "soak.png")
        print(f"chart: {out / 'soak.png'}")
    except ImportError:
        print("no chart: matplotlib is missing (pip install 'p2pstack[charts]')")
    print(json.dumps(summary, indent=1))
    ratio = summary["honest_failure_ratio"]
    ok = summary["survived"] and ratio is not None and ratio < 0.01
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1
