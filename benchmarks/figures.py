"""Measured figures, their references and ratios, and the run's JSON document."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Better = Literal["higher", "lower"]

#: Reference names, in table order: what each ratio column compares with.
REFERENCES = ("tcp", "js", "py", "go")


@dataclass(kw_only=True)
class Figure:
    """One measured number.

    ``compare`` maps a reference name (``"tcp"``, ``"js"``, ...) to the id of the figure it
    is compared with; :func:`compute_ratios` fills ``ratios`` with ``value / reference``.
    """

    id: str
    group: str
    label: str
    value: float
    unit: str
    better: Better = "higher"
    samples: list[float] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    compare: dict[str, str] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        """The inverse of :meth:`to_json`."""
        return cls(**data)


def from_samples(samples: list[float], **fields: Any) -> Figure:
    """A figure whose value is the median of ``samples``."""
    if not samples:
        raise ValueError("a figure needs at least one sample")
    return Figure(value=statistics.median(samples), samples=list(samples), **fields)


@dataclass
class Results:
    """The figures of one run, in the order they were measured, plus notes."""

    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        """Record ``figure`` (replacing one with the same id)."""
        self.figures = [f for f in self.figures if f.id != figure.id]
        self.figures.append(figure)
        return figure

    def get(self, figure_id: str) -> Figure | None:
        """The figure with this id, or None."""
        return next((f for f in self.figures if f.id == figure_id), None)

    def note(self, text: str) -> None:
        """Record a remark shown under the tables (missing peers, failed cases)."""
        self.notes.append(text)


def compute_ratios(results: Results) -> None:
    """Fill every figure's ``ratios`` from its ``compare`` references that were measured."""
    for figure in results.figures:
        figure.ratios = {}
        for name, ref_id in figure.compare.items():
            ref = results.get(ref_id)
            if ref is not None and ref.value > 0 and ref is not figure:
                figure.ratios[name] = figure.value / ref.value


def matrix_layers(cells: list[Figure], builtin: dict[str, str]) -> dict[str, str]:
    """The layers of matrix ``cells`` (id -> label): the built-in ones first, then those of
    custom cases (``params["stack"]``, labelled by ``params["stack_label"]``)."""
    layers = dict(builtin)
    for cell in cells:
        name = str(cell.params["stack"])
        layers.setdefault(name, str(cell.params.get("stack_label", name)))
    return layers


def matrix_cell(cells: list[Figure], stack: str, streams: int, write: int) -> Figure | None:
    """The matrix figure of one layer, stream count and write size, or None."""
    for cell in cells:
        params = cell.params
        if params["stack"] == stack and params["streams"] == streams and params["write"] == write:
            return cell
    return None


def is_better(figure: Figure, ratio: float) -> bool:
    """Whether ``ratio`` (ours / reference) means the figure beats its reference."""
    return ratio >= 1.0 if figure.better == "higher" else ratio <= 1.0
