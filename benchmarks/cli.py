"""The benchmark command line: ``python -m p2pstack.benchmarks`` and ``p2pstack bench``."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import trio
from rich.console import Console
from rich.markup import escape

from p2pstack.benchmarks.chart import ChartUnavailable, write_chart
from p2pstack.benchmarks.config import add_arguments, config_from_args
from p2pstack.benchmarks.markdown import to_markdown
from p2pstack.benchmarks.record import RunRecord
from p2pstack.benchmarks.report import print_report
from p2pstack.benchmarks.runner import run

RESULTS_DIR = Path("bench-results")


def report_console(*, stderr: bool) -> Console:
    """A console for the report: the terminal's width, or 160 columns into a file or pipe."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console = Console(stderr=stderr, highlight=False, width=160)
    return console


def default_output() -> Path:
    """``bench-results/bench-<local time>.json`` (the directory is git-ignored)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return RESULTS_DIR / f"bench-{stamp}.json"


async def _cancel_on_signal(signals: AsyncIterator[int], scope: trio.CancelScope) -> None:
    async for _ in signals:
        scope.cancel()
        return


def rerender(args: argparse.Namespace) -> int:
    """``--from-json FILE``: print a recorded run again (tables, or Markdown with --markdown)
    and, with ``--chart PNG``, draw its chart (exit status 1 when it cannot be drawn)."""
    record = RunRecord.from_json(json.loads(Path(args.from_json).read_text(encoding="utf-8")))
    if args.markdown:
        sys.stdout.write(to_markdown(record))
    else:
        print_report(report_console(stderr=False), record)
    if args.chart is None:
        return 0
    errors = report_console(stderr=True)
    try:
        drawn = write_chart(record, args.chart)
    except ChartUnavailable as exc:
        errors.print(f"[red]no chart:[/] {escape(str(exc))}")
        return 1
    if not drawn:
        errors.print(
            f"[red]no chart:[/] {escape(str(args.from_json))} has no stream-count matrix to draw"
        )
        return 1
    errors.print(f"wrote {escape(str(args.chart))}")
    return 0


async def bench(args: argparse.Namespace, command: str) -> int:
    """Run the benchmarks the flags select, report, and write the JSON file and chart."""
    if args.from_json is not None:
        await trio.lowlevel.checkpoint()
        return rerender(args)
    config = config_from_args(args)
    errors = report_console(stderr=True)
    errors.print(f"[bold]p2pstack bench[/]: {config.describe()}; cases {', '.join(config.cases)}")
    record = None
    try:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_on_signal, signals, nursery.cancel_scope)
                record = await run(config, console=errors, command=command)
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        _, rest = group.split(KeyboardInterrupt)
        if rest is not None:
            raise
        raise KeyboardInterrupt from None  # Ctrl-C: the children are already stopped
    if record is None:
        errors.print("[red]interrupted[/]: every child process was stopped")
        return 143
    output: Path = args.output or default_output()
    record.write(output)
    print_report(errors if args.json else report_console(stderr=False), record)
    errors.print(f"wrote {escape(str(output))}")
    if not args.no_chart:
        chart: Path = args.chart or output.with_suffix(".png")
        try:
            if write_chart(record, chart):
                errors.print(f"wrote {escape(str(chart))}")
        except ChartUnavailable as exc:
            errors.print(f"[yellow]no chart:[/] {escape(str(exc))}")
    if args.json:
        sys.stdout.write(json.dumps(record.to_json()) + "\n")
        sys.stdout.flush()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m p2pstack.benchmarks``."""
    parser = argparse.ArgumentParser(
        prog="python -m p2pstack.benchmarks",
        description="Measure p2pstack against raw TCP, js-libp2p, py-libp2p and Go yamux.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logs on stderr")
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m p2pstack.benchmarks``."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    try:
        config_from_args(args)
    except ValueError as exc:
        print(f"benchmarks: error: {exc}", file=sys.stderr)
        return 2
    command = shlex.join(["python", "-m", "p2pstack.benchmarks", *argv])
    try:
        status: int = trio.run(bench, args, command)
    except KeyboardInterrupt:
        return 130
    return status


__all__ = ["RunRecord", "bench", "build_parser", "main"]
