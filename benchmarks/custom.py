"""Benchmark your own stack from code: :class:`Case` and :func:`run_custom`.

A :class:`Case` says how to build the nodes (transports, security, muxers, node config);
:func:`run_custom` measures perf uploads between two such nodes on loopback for every stream
count and write size of a :class:`~p2pstack.benchmarks.config.BenchConfig`, ``repeat`` times
each, and returns a :class:`~p2pstack.benchmarks.record.RunRecord` whose figures are medians,
as the built-in matrix records them (group ``matrix``, ``params["stack"]`` the case name), so
``record.write(path)``, ``p2pstack bench --from-json`` and the PNG chart work on it::

    cases = [Case.yamux("default"), Case.yamux("small window", YamuxConfig(max_window=256 << 10))]
    record = await run_custom(cases, config=BenchConfig(size=64 << 20, stream_counts=(1, 16)))

Unlike the built-in cases (server and client in separate processes), both nodes run in this
process and share one trio loop: compare cases of one run with each other, not with the
figures of ``p2pstack bench``.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from p2pstack.abc.muxer import StreamMuxer
from p2pstack.abc.security import SecurityTransport
from p2pstack.abc.transport import Transport
from p2pstack.benchmarks.chart import write_chart
from p2pstack.benchmarks.config import BenchConfig, KiB
from p2pstack.benchmarks.figures import Figure, from_samples
from p2pstack.benchmarks.record import RunRecord, load_average, machine_info
from p2pstack.cli.sizes import format_size
from p2pstack.compose import open_node
from p2pstack.host.config import NodeConfig
from p2pstack.muxers.yamux import YamuxConfig, yamux
from p2pstack.protocols.perf import PerfConfig, perf, perf_peer

LOOPBACK: Final = "/ip4/127.0.0.1/tcp/0"

FigureHook = Callable[[Figure], None]
"""Called with each figure as soon as it is measured."""


@dataclass(frozen=True, kw_only=True)
class Case:
    """One stack configuration to measure; both nodes are built from it.

    The factories are called once per node (a transport or muxer instance is never shared
    between the two nodes); None means ``open_node``'s default.

    Attributes:
        name: a short id (figure ids and the chart's legend use it).
        label: the text of tables and charts (default: ``name``).
        transports, security, muxers: factories of what ``open_node`` gets.
        config: both nodes' :class:`~p2pstack.host.config.NodeConfig`.
        listen: the server's listen address (loopback TCP by default).
    """

    name: str
    label: str | None = None
    transports: Callable[[], Sequence[Transport]] | None = None
    security: Callable[[], Sequence[SecurityTransport]] | None = None
    muxers: Callable[[], Sequence[StreamMuxer]] | None = None
    config: NodeConfig | None = None
    listen: str = LOOPBACK

    @classmethod
    def yamux(
        cls, name: str, config: YamuxConfig | None = None, *, label: str | None = None
    ) -> Case:
        """A case that differs from the default stack by its :class:`YamuxConfig` only."""
        chosen = config if config is not None else YamuxConfig()
        return cls(name=name, label=label, muxers=lambda: [yamux(chosen)])

    @property
    def title(self) -> str:
        """``label``, else ``name``."""
        return self.label or self.name


def custom_id(case: Case, streams: int, write: int) -> str:
    """The id of one custom figure."""
    return f"custom/{case.name}/s{streams}/w{write // KiB}K"


async def measure_case(case: Case, config: BenchConfig, on_figure: FigureHook) -> list[Figure]:
    """Every (stream count, write size) of ``config`` for ``case``: ``repeat`` uploads of
    ``config.size`` bytes each on one connection; one figure (the median) per pair."""
    figures: list[Figure] = []
    served = [perf(PerfConfig(max_bytes=config.size))]
    async with (
        open_node(
            listen=[case.listen],
            transports=case.transports() if case.transports else None,
            security=case.security() if case.security else None,
            muxers=case.muxers() if case.muxers else None,
            protocols=served,
            config=case.config,
        ) as server,
        open_node(
            transports=case.transports() if case.transports else None,
            security=case.security() if case.security else None,
            muxers=case.muxers() if case.muxers else None,
            config=case.config,
        ) as client,
    ):
        conn = await client.dial(server.addrs[0])
        for streams in config.stream_counts:
            for write in config.write_sizes:
                samples = []
                for _ in range(config.repeat):
                    result = await perf_peer(
                        client, conn, upload=config.size, download=0, streams=streams,
                        write_size=write,
                    )  # fmt: skip
                    samples.append(result.upload_mb_s)
                figure = from_samples(
                    samples,
                    id=custom_id(case, streams, write),
                    group="matrix",
                    label=f"{case.title}, {streams} stream(s), {format_size(write)} writes",
                    unit="MB/s",
                    params={
                        "stack": case.name,
                        "stack_label": case.title,
                        "streams": streams,
                        "write": write,
                        "bytes": config.size,
                        "load_1m": (load_average() or [0.0])[0],
                    },
                )
                figures.append(figure)
                on_figure(figure)
    return figures


def _ignore(_: Figure) -> None:
    pass


async def run_custom(
    cases: Sequence[Case],
    *,
    config: BenchConfig | None = None,
    chart: Path | None = None,
    on_figure: FigureHook = _ignore,
) -> RunRecord:
    """Measure ``cases`` one after another (see the module docstring).

    Args:
        cases: what to measure; names must be unique.
        config: sizes (``size``: bytes per upload), ``repeat``, ``stream_counts`` and
            ``write_sizes`` (default: ``BenchConfig()``'s: 64 MiB, 3 repeats, 1/16/128
            streams, 16K/64K/256K writes). Its ``cases`` are ignored.
        chart: also draw the PNG chart there (needs matplotlib: ``p2pstack[charts]``;
            raises :class:`~p2pstack.benchmarks.chart.ChartUnavailable` without it).
        on_figure: called with each figure as soon as it is measured.

    Returns:
        The run; ``record.results.figures`` holds one figure per case, stream count and
        write size, its ``value`` the median of its ``samples``.

    Raises:
        ValueError: no cases, or two with one name.
    """
    if not cases:
        raise ValueError("run_custom needs at least one case")
    names = [case.name for case in cases]
    if len(set(names)) != len(names):
        raise ValueError(f"case names must be unique: {names}")
    chosen = config if config is not None else BenchConfig()
    record = RunRecord(
        machine=machine_info(),
        config={**chosen.to_json(), "cases": names},
        command=f"run_custom({', '.join(names)})",
        started=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    start = time.monotonic()
    for case in cases:
        for figure in await measure_case(case, chosen, on_figure):
            record.results.add(figure)
    record.machine["load_average_end"] = load_average()
    record.duration_s = time.monotonic() - start
    if chart is not None:
        write_chart(record, chart)
    return record
