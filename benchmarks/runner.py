"""Run the selected cases one after another, with progress on stderr, into a RunRecord."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final

import trio
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from p2pstack.benchmarks.cases_dial import dial
from p2pstack.benchmarks.cases_latency import latency
from p2pstack.benchmarks.cases_memory import memory
from p2pstack.benchmarks.cases_peers import go, js, py
from p2pstack.benchmarks.cases_quic import quic
from p2pstack.benchmarks.cases_relay import relay
from p2pstack.benchmarks.cases_scale import scale
from p2pstack.benchmarks.cases_security import security
from p2pstack.benchmarks.cases_throughput import ceiling, headline, matrix
from p2pstack.benchmarks.cases_websocket import websocket
from p2pstack.benchmarks.config import BenchConfig
from p2pstack.benchmarks.context import Context
from p2pstack.benchmarks.figures import Figure, compute_ratios
from p2pstack.benchmarks.record import RunRecord, load_average, machine_info
from p2pstack.benchmarks.report import format_value

logger: Final = logging.getLogger("benchmarks")

Case = Callable[[Context], Awaitable[None]]

CASE_FUNCTIONS: Final[dict[str, Case]] = {
    "ceiling": ceiling,
    "matrix": matrix,
    "headline": headline,
    "latency": latency,
    "memory": memory,
    "js": js,
    "py": py,
    "go": go,
    "websocket": websocket,
    "quic": quic,
    "relay": relay,
    "security": security,
    "dial": dial,
    "scale": scale,
}


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


async def run_case(ctx: Context, name: str) -> None:
    """Run one case; a failure or a timeout becomes a note, not an abort."""
    try:
        with trio.fail_after(ctx.config.case_timeout):
            await CASE_FUNCTIONS[name](ctx)
    except trio.TooSlowError:
        ctx.results.note(f"{name}: stopped after {ctx.config.case_timeout:g} s (--case-timeout)")
    except Exception as exc:
        logger.debug("case %s failed", name, exc_info=True)
        ctx.results.note(f"{name}: failed: {_describe(exc)}")


async def run(config: BenchConfig, *, console: Console, command: str) -> RunRecord:
    """Measure every case of ``config``; progress and figures go to ``console``."""
    record = RunRecord(
        machine=machine_info(),
        config=config.to_json(),
        command=command,
        started=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    start = time.monotonic()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )

    def show(figure: Figure) -> None:
        progress.console.print(f"  {figure.label}: [bold]{format_value(figure.value, figure.unit)}")

    # Redrawn only when a step changes: a display refreshing on a timer takes CPU and wakes
    # cores while latency cases run (on 2 cores it doubled the measured ping RTT).
    with Progress(*columns, console=console, transient=True, auto_refresh=False) as progress:
        task = progress.add_task("starting", total=len(config.cases))
        ctx = Context(config, record.results, on_figure=show)
        for name in config.cases:
            progress.console.print(f"[bold]{name}[/]")

            def step(text: str, name: str = name) -> None:
                progress.update(task, description=f"{name}: {text}", refresh=True)

            ctx.on_step = step
            await run_case(ctx, name)
            progress.advance(task)
            progress.refresh()
    compute_ratios(record.results)
    record.machine["load_average_end"] = load_average()
    record.duration_s = time.monotonic() - start
    return record
