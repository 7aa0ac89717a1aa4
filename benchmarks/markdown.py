"""A recorded run as Markdown tables (for docs/benchmarks.md)."""

from __future__ import annotations

from p2pstack.benchmarks.cases_throughput import STACKS, plural
from p2pstack.benchmarks.figures import REFERENCES, Figure, matrix_cell, matrix_layers
from p2pstack.benchmarks.record import RunRecord
from p2pstack.benchmarks.report import GROUPS, REFERENCE_TITLES, format_ratio, format_value, targets
from p2pstack.cli.sizes import format_size


def _ratio(figure: Figure, reference: str) -> str:
    ratio = figure.ratios.get(reference)
    return format_ratio(ratio) if ratio is not None else "-"


def matrix_markdown(record: RunRecord) -> str:
    """The matrix: MB/s (x raw TCP ceiling) per layer, write size and stream count."""
    cells = [f for f in record.results.figures if f.group == "matrix"]
    if not cells:
        return ""
    counts = sorted({int(f.params["streams"]) for f in cells})
    writes = sorted({int(f.params["write"]) for f in cells})
    header = " | ".join(plural(count, "stream") for count in counts)
    lines = [f"| layer | write | {header} |", "|---|---:|" + "---:|" * len(counts)]
    for stack, label in matrix_layers(cells, STACKS).items():
        for write in writes:
            row = []
            for count in counts:
                figure = matrix_cell(cells, stack, count, write)
                if figure is None:
                    row.append("-")
                else:
                    row.append(f"{format_value(figure.value)} ({_ratio(figure, 'tcp')})")
            if any(cell != "-" for cell in row):
                lines.append(f"| {label} | {format_size(write)} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def figures_markdown(record: RunRecord) -> str:
    """Every other figure with its ratios."""
    titles = " | ".join(REFERENCE_TITLES[r] for r in REFERENCES)
    lines = [f"| figure | value | {titles} |", "|---|---:|" + "---:|" * len(REFERENCES)]
    for group in GROUPS:
        rows = [f for f in record.results.figures if f.group == group]
        if rows:
            lines.append(f"| **{group}** | | " + " | ".join("" for _ in REFERENCES) + " |")
        for figure in rows:
            ratios = " | ".join(_ratio(figure, r) for r in REFERENCES)
            value = format_value(figure.value, figure.unit)
            lines.append(f"| {figure.label} | {value} | {ratios} |")
    return "\n".join(lines)


def targets_markdown(record: RunRecord) -> str:
    """The performance goals with verdicts."""
    verdict = {True: "yes", False: "**no**", None: "-"}
    lines = ["| target | measured | met |", "|---|---:|---|"]
    lines += [f"| {what} | {shown} | {verdict[met]} |" for what, shown, met in targets(record)]
    return "\n".join(lines)


def to_markdown(record: RunRecord) -> str:
    """All three tables and the notes."""
    parts = [matrix_markdown(record), figures_markdown(record), targets_markdown(record)]
    notes = "\n".join(f"- {note}" for note in record.results.notes)
    return "\n\n".join(part for part in [*parts, notes] if part) + "\n"
