"""The soak run's PNG: memory, fds, honest latency and attack volume over time."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_chart(result: dict[str, Any], path: Path) -> None:
    """Four panels against minutes. Raises ImportError without matplotlib (charts extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result["samples"]
    t = [s["t"] / 60 for s in samples]
    figure, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True)
    (mem, fds), (lat, att) = axes
    for who, style in (("node", "-"), ("relay", "--")):
        mem.plot(t, [_get(s, who, "rss_kib", 1 / 1024) for s in samples], style, label=who)
        fds.plot(t, [_get(s, who, "fds") for s in samples], style, label=who)
    mem.set_ylabel("RSS (MiB)")
    fds.set_ylabel("open fds")
    for name in ("ping", "rr", "connect", "relayed"):
        for q, style in (("p50_ms", "-"), ("p99_ms", ":")):
            values = [s["latency"][name][q] for s in samples]
            lat.plot(t, values, style, label=f"{name} {q[:3]}")
    lat.set_yscale("log")
    lat.set_ylabel("honest latency (ms)")
    lat.legend(fontsize=7, ncol=2)
    previous: dict[str, int] = {}
    keys = ("rst_connects", "silent_opened", "partial_opened", "unread_streams", "flood_pings")
    rates: dict[str, list[float]] = {k: [] for k in keys}
    last_t = 0.0
    for s in samples:
        dt = max(s["t"] - last_t, 1e-9)
        for k in keys:
            value = s["counts"].get(k, 0)
            rates[k].append((value - previous.get(k, 0)) / dt)
            previous[k] = value
        last_t = s["t"]
    for k in keys:
        att.plot(t, rates[k], label=k)
    att.set_yscale("symlog")
    att.set_ylabel("attack events / s")
    att.legend(fontsize=7)
    for axis in (mem, fds):
        axis.legend()
    for axis in (lat, att):
        axis.set_xlabel("minutes")
    figure.suptitle(f"p2pstack soak ({result['summary']['minutes']} min)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _get(sample: dict[str, Any], who: str, key: str, scale: float = 1.0) -> float | None:
    proc = sample[who]
    return None if proc is None else proc[key] * scale
