"""``p2pstack bench``: the benchmark suite (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import shlex
import sys


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the flags of ``p2pstack bench`` (the same as ``python -m p2pstack.benchmarks``)."""
    from p2pstack.benchmarks.config import add_arguments

    add_arguments(parser)


async def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmarks the flags select."""
    from p2pstack.benchmarks.cli import bench

    return await bench(args, shlex.join(["p2pstack", *sys.argv[1:]]))
