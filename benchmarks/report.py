"""The human-readable report: the matrix, every figure with its ratios, and the targets."""

from __future__ import annotations

from typing import Final

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from p2pstack.benchmarks.cases_throughput import CEILING_ID, STACKS, headline_id, plural
from p2pstack.benchmarks.figures import REFERENCES, Figure, is_better, matrix_cell, matrix_layers
from p2pstack.benchmarks.record import RunRecord
from p2pstack.cli.sizes import format_size

GROUPS: Final = (
    "throughput",
    "websocket",
    "quic",
    "relay",
    "go-yamux",
    "peers",
    "latency",
    "memory",
)
REFERENCE_TITLES: Final = {"tcp": "x raw TCP", "js": "x js", "py": "x py", "go": "x go"}


def format_value(value: float, unit: str = "") -> str:
    """A number with as many decimals as it deserves: 2300 -> "2300", 0.2345 -> "0.235"."""
    size = abs(value)
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    text = f"{value:,.{decimals}f}"
    return f"{text} {unit}" if unit else text


def format_ratio(ratio: float) -> str:
    """``0.5234`` -> ``"0.52x"``, ``12.34`` -> ``"12.3x"``."""
    return f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}x"


def ratio_cell(figure: Figure, reference: str) -> Text:
    """The ratio to ``reference``, green when the figure beats it, red otherwise."""
    ratio = figure.ratios.get(reference)
    if ratio is None:
        return Text("-", style="dim")
    return Text(format_ratio(ratio), style="green" if is_better(figure, ratio) else "red")


def matrix_table(record: RunRecord) -> Table | None:
    """Upload MB/s by layer and write size (rows) and stream count (columns)."""
    results = record.results
    cells = [f for f in results.figures if f.group == "matrix"]
    if not cells:
        return None
    counts = sorted({int(f.params["streams"]) for f in cells})
    writes = sorted({int(f.params["write"]) for f in cells})
    ceiling = results.get(CEILING_ID)
    title = "Upload MB/s by number of streams (ratio to the raw TCP ceiling"
    title += f" {format_value(ceiling.value)} MB/s)" if ceiling else ")"
    table = Table(title=title, title_justify="left")
    table.add_column("layer")
    table.add_column("write", justify="right")
    for count in counts:
        table.add_column(f"{count} stream{'s' if count > 1 else ''}", justify="right")
    for stack, label in matrix_layers(cells, STACKS).items():
        for write in writes:
            row: list[str | Text] = [label, format_size(write)]
            present = False
            for count in counts:
                figure = matrix_cell(cells, stack, count, write)
                if figure is None:
                    row.append(Text("-", style="dim"))
                    continue
                present = True
                cell = Text(format_value(figure.value))
                if "tcp" in figure.ratios:
                    cell.append(f" ({format_ratio(figure.ratios['tcp'])})", style="dim")
                row.append(cell)
            if present:
                table.add_row(*row)
    return table


def figures_table(record: RunRecord) -> Table:
    """Every figure outside the matrix, by group, with its ratios."""
    table = Table(
        title="Figures (ratio = value / reference; for ms and KiB below 1x is better)",
        title_justify="left",
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    for reference in REFERENCES:
        table.add_column(REFERENCE_TITLES[reference], justify="right")
    figures = record.results.figures
    for group in GROUPS:
        rows = [f for f in figures if f.group == group]
        if not rows:
            continue
        table.add_section()
        table.add_row(Text(group, style="bold"), "", *["" for _ in REFERENCES])
        for figure in rows:
            cells = [ratio_cell(figure, reference) for reference in REFERENCES]
            table.add_row(f"  {figure.label}", format_value(figure.value, figure.unit), *cells)
    return table


def targets(record: RunRecord) -> list[tuple[str, str, bool | None]]:
    """The performance goals: (what, measured, met?); None when not measured."""
    results = record.results
    rows: list[tuple[str, str, bool | None]] = []
    for streams in (1, 16):
        figure = results.get(headline_id(streams))
        for ref, goal, text in (("js", 2.0, ">= 2x js-libp2p"), ("tcp", 0.35, ">= 35% raw TCP")):
            ratio = figure.ratios.get(ref) if figure else None
            what = f"TCP+Noise+Yamux, {plural(streams, 'stream')}: {text}"
            shown = format_ratio(ratio) if ratio is not None else "not measured"
            rows.append((what, shown, None if ratio is None else ratio >= goal))
    for figure_id, limit, what in (
        ("ours/ping_rtt", 0.3, "ping RTT median <= 0.3 ms"),
        ("ours/connect", 10.0, "connect (p2pstack ping connect_ms) <= 10 ms"),
        ("ours/first_stream", 10.0, "dial to first negotiated stream <= 10 ms"),
    ):
        found = results.get(figure_id)
        shown = format_value(found.value, found.unit) if found else "not measured"
        rows.append((what, shown, None if found is None else found.value <= limit))
    return rows


def targets_table(record: RunRecord) -> Table:
    """The targets as a table with a verdict column."""
    table = Table(title="Targets (p2pstack's performance goals)", title_justify="left")
    table.add_column("target")
    table.add_column("measured", justify="right")
    table.add_column("met")
    verdicts = {True: Text("yes", style="green"), False: Text("no", style="red")}
    for what, shown, met in targets(record):
        table.add_row(what, shown, verdicts[met] if met is not None else Text("-", style="dim"))
    return table


def print_report(console: Console, record: RunRecord) -> None:
    """Print the machine line, the tables and the notes."""
    machine = record.machine
    console.print(
        f"[bold]p2pstack benchmarks[/] {record.started}: {machine.get('nproc')} x "
        f"{machine.get('cpu_model')}, Python {machine.get('python')}, trio {machine.get('trio')}, "
        f"load {machine.get('load_average_start')} -> {machine.get('load_average_end')}, "
        f"{record.duration_s:.0f} s"
    )
    matrix = matrix_table(record)
    if matrix is not None:
        console.print(matrix)
    console.print(figures_table(record))
    console.print(targets_table(record))
    for note in record.results.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
