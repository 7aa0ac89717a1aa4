"""The record of one run: machine, settings, figures and notes, as one JSON document."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from p2pstack.benchmarks.figures import Figure, Results

FORMAT_VERSION = 1


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where unsupported)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _node_version() -> str | None:
    node = shutil.which("node")
    if node is None:
        return None
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    """What the figures depend on: CPUs, memory, interpreter and library versions, load."""
    mem_total = None
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            mem_total = int(meminfo.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "mem_total_bytes": mem_total,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "trio": _version("trio"),
        "cryptography": _version("cryptography"),
        "node": _node_version(),
        "load_average_start": load_average(),
    }


@dataclass
class RunRecord:
    """A finished (or interrupted) run."""

    machine: dict[str, Any]
    config: dict[str, Any]
    command: str
    started: str
    duration_s: float = 0.0
    results: Results = field(default_factory=Results)

    def to_json(self) -> dict[str, Any]:
        """The JSON document (see docs/benchmarks.md)."""
        return {
            "format": FORMAT_VERSION,
            "started": self.started,
            "duration_s": round(self.duration_s, 1),
            "command": self.command,
            "machine": self.machine,
            "config": self.config,
            "figures": [f.to_json() for f in self.results.figures],
            "notes": list(self.results.notes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        """Read a document written by :meth:`to_json`."""
        results = Results([Figure.from_json(f) for f in data["figures"]], list(data["notes"]))
        return cls(
            machine=data["machine"],
            config=data["config"],
            command=data["command"],
            started=data["started"],
            duration_s=float(data["duration_s"]),
            results=results,
        )

    def write(self, path: Path) -> None:
        """Write the JSON document to ``path`` (creating its directory)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
