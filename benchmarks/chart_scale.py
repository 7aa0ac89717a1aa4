"""The scaling curves of a ``scale`` run as one PNG (needs the ``charts`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from p2pstack.benchmarks.chart import ChartUnavailable
from p2pstack.benchmarks.record import RunRecord


def _series(record: RunRecord, prefix: str, key: str) -> tuple[list[int], list[float]]:
    points = sorted(
        (int(f.params[key]), f.value) for f in record.results.figures if f.id.startswith(prefix)
    )
    return [x for x, _ in points], [y for _, y in points]


def _cores_panel(record: RunRecord, axis: Any) -> None:
    values = {f.id: f.value for f in record.results.figures}
    drawn = False
    for offset, kind in ((-0.2, "accept"), (0.2, "upload")):
        one = values.get(f"scale/multicore/{kind}/l1")
        two = values.get(f"scale/multicore/{kind}/l2")
        if one and two:
            axis.bar([1 + offset, 2 + offset], [1.0, two / one], width=0.4, label=kind)
            drawn = True
    axis.set(xticks=[1, 2], xlabel="listener processes on one port", ylabel="x one process")
    axis.set_title("SO_REUSEPORT: accept rate and upload")
    if drawn:
        axis.legend()
    else:
        axis.text(0.5, 0.5, "not measured in this run", ha="center", transform=axis.transAxes)


def write_scale_chart(record: RunRecord, path: Path) -> bool:
    """Six panels: memory and idle CPU per connection against the connection count, accept
    rate against client processes, stream rate against concurrency, relay memory per
    reservation against the reservation count, and 1 against 2 listener processes sharing a
    port (accept rate and upload, relative to one process). False: no scale figures.

    Raises:
        ChartUnavailable: matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ChartUnavailable(
            "matplotlib is not installed: pip install 'p2pstack[charts]'"
        ) from exc
    if not any(f.group == "scale" for f in record.results.figures):
        return False
    fig, axes = plt.subplots(2, 3, figsize=(16, 8))
    memory, cpu, accept, streams, relay, cores = axes.flat
    for prefix, label in (("scale/conn_rss/", "RSS"), ("scale/conn_traced/", "tracemalloc")):
        xs, ys = _series(record, prefix, "count")
        memory.plot(xs, ys, marker="o", label=label)
    memory.set(xscale="log", xlabel="idle connections", ylabel="KiB per connection")
    memory.set_title("listener memory per idle connection")
    memory.legend()
    xs, ys = _series(record, "scale/idle_cpu_total/", "count")
    cpu.plot(xs, ys, marker="o")
    cpu.set(xscale="log", xlabel="idle connections", ylabel="ms of CPU per s")
    cpu.set_title("listener idle CPU, all connections")
    xs, ys = _series(record, "scale/accept_rate/", "clients")
    accept.bar([str(x) for x in xs], ys)
    accept.set(xlabel="client processes", ylabel="connections/s")
    accept.set_title("accept rate (TCP + Noise + Yamux)")
    xs, ys = _series(record, "scale/stream_rate/", "tasks")
    streams.plot(xs, ys, marker="o")
    streams.set(xscale="log", xlabel="concurrent streams", ylabel="streams/s")
    streams.set_title("stream open/echo/close, one connection")
    xs, ys = _series(record, "scale/relay_rsv_rss/", "count")
    relay.plot(xs, ys, marker="o")
    relay.set(xscale="log", xlabel="reservations held", ylabel="KiB per reservation")
    relay.set_title("relay RSS per reservation (with its connection)")
    _cores_panel(record, cores)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
