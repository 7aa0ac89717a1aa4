"""The PNG chart: upload throughput against the number of streams (needs the ``charts`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from p2pstack.benchmarks.cases_throughput import STACKS
from p2pstack.benchmarks.figures import matrix_layers
from p2pstack.benchmarks.record import RunRecord
from p2pstack.cli.sizes import format_size

#: Single-stream references drawn as horizontal lines: id -> legend text.
REFERENCE_LINES: Final = {
    "js-js/upload": "js-libp2p -> js-libp2p (1 stream)",
    "py-py/upload": "py-libp2p -> py-libp2p (1 stream)",
}


class ChartUnavailable(Exception):
    """matplotlib is not installed (``pip install 'p2pstack[charts]'``)."""


def write_chart(record: RunRecord, path: Path) -> bool:
    """Draw one panel per write size; return False when there is no matrix to draw.

    Raises:
        ChartUnavailable: matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ChartUnavailable(
            "matplotlib is not installed: pip install 'p2pstack[charts]' for the PNG chart"
        ) from exc
    cells = [f for f in record.results.figures if f.group == "matrix"]
    if not cells:
        return False
    writes = sorted({int(f.params["write"]) for f in cells})
    figure, axes = plt.subplots(
        1, len(writes), figsize=(5 * len(writes), 4.2), sharey=True, squeeze=False
    )
    stacks = matrix_layers(cells, STACKS)  # the built-in layers, then run_custom's cases
    for axis, write in zip(axes[0], writes, strict=True):
        for stack, label in stacks.items():
            points = sorted(
                (int(f.params["streams"]), f.value)
                for f in cells
                if f.params["stack"] == stack and int(f.params["write"]) == write
            )
            if points:
                xs, ys = zip(*points, strict=True)
                axis.plot(xs, ys, marker="o", label=label)
        for ref_id, text in REFERENCE_LINES.items():
            ref = record.results.get(ref_id)
            if ref is not None:
                axis.axhline(ref.value, linestyle=":", color="grey", label=text)
        axis.set_xscale("log", base=2)
        counts = sorted({int(f.params["streams"]) for f in cells})
        axis.set_xticks(counts, [str(c) for c in counts])
        axis.set_title(f"{format_size(write)} writes")
        axis.set_xlabel("concurrent streams")
        axis.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("upload MB/s")
    axes[0][-1].legend(fontsize="small")
    figure.suptitle(f"p2pstack throughput over loopback ({record.started})")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
