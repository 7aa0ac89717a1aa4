"""The victim: a real ``p2pstack node`` / ``p2pstack relay`` process whose memory and file
descriptors the tests read from ``/proc``.

The child raises its own ``RLIMIT_NOFILE`` soft limit (to :data:`VICTIM_NOFILE`, capped by the
hard limit) before running the command, so floods of thousands of sockets hit the node's own
limits, not the process's. Its stdout and stderr go to files (a flood makes a node log a lot;
an unread pipe would stall it), and stderr is quoted when a test fails.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import trio

from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr

ROOT: Final = Path(__file__).resolve().parents[2]
"""The repository root: the victim imports the stack from here."""
VICTIM_NOFILE: Final = 16384
"""Soft ``RLIMIT_NOFILE`` of the victim (and of the test process): room for 2,000+ sockets."""
START_TIMEOUT: Final = 30.0
POLL_INTERVAL: Final = 0.05

_LAUNCHER: Final = (
    "import resource, sys\n"
    "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
    "want = int(sys.argv.pop(1))\n"
    "if hard != resource.RLIM_INFINITY: want = min(want, hard)\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))\n"
    "from p2pstack.cli.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def raise_own_nofile(want: int = VICTIM_NOFILE) -> None:
    """Raise this (the attacking test) process's soft fd limit to ``want`` (capped by hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of the victim's resident memory (bytes) and open file descriptors."""

    rss: int
    fds: int


def read_rss(pid: int) -> int:
    """VmRSS of ``pid`` in bytes (``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def count_fds(pid: int) -> int:
    """Open file descriptors of ``pid`` (entries of ``/proc/PID/fd``)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass(eq=False, repr=False)
class Victim:
    """A running victim process."""

    process: trio.Process
    info: dict[str, Any]
    stderr_path: Path
    kind: str
    peak_rss: int = 0

    def __repr__(self) -> str:
        return f"<victim {self.kind} pid={self.pid} returncode={self.process.returncode}>"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def peer_id(self) -> PeerId:
        return PeerId.from_string(self.info["peer_id"])

    @property
    def addrs(self) -> list[Multiaddr]:
        """Listen addresses with ``/p2p/<id>``."""
        return [Multiaddr(a) for a in self.info["listen_addrs"]]

    def addr(self, *, ws: bool = False) -> Multiaddr:
        """The first (WebSocket when ``ws``) listen address, with ``/p2p/<id>``."""
        for addr in self.addrs:
            if addr.has_protocol("ws") == ws:
                return addr
        raise AssertionError(f"the victim listens on no {'ws' if ws else 'tcp'} address")

    def host_port(self, *, ws: bool = False) -> tuple[str, int]:
        """``(host, port)`` of :meth:`addr` for raw sockets."""
        parts = self.addr(ws=ws).components()
        host, port = parts[0].value, parts[1].value
        assert host is not None
        assert port is not None
        return host, int(port)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def sample(self) -> Sample:
        """Read RSS and fds now (and track the peak RSS)."""
        sample = Sample(read_rss(self.pid), count_fds(self.pid))
        self.peak_rss = max(self.peak_rss, sample.rss)
        return sample

    def stderr_tail(self, chars: int = 3000) -> str:
        text = self.stderr_path.read_text(errors="replace")
        return text[-chars:]

    def describe_death(self) -> str:
        """Exit status and the end of stderr, for assertion messages."""
        return f"victim {self.kind} exited with {self.process.returncode}:\n{self.stderr_tail()}"


VICTIM_MEMORY: Final = 64 * 1024 * 1024
"""The victim's resource-manager budget (``--max-memory``): what peers may make it hold."""


@asynccontextmanager
async def running_victim(
    tmp_path: Path, kind: str = "node", *args: str, listen: tuple[str, ...] = ()
) -> AsyncIterator[Victim]:
    """Start ``p2pstack <kind> --listen ... <args>`` on loopback and yield it once it prints
    its JSON line; SIGTERM (then SIGKILL) it on exit."""
    raise_own_nofile()
    listen = listen or ("/ip4/127.0.0.1/tcp/0",)
    argv = [sys.executable, "-c", _LAUNCHER, str(VICTIM_NOFILE), kind]
    argv += ["--max-memory", str(VICTIM_MEMORY)]
    for addr in listen:
        argv += ["--listen", addr]
    argv += list(args)
    out_path = tmp_path / f"{kind}.stdout"
    err_path = tmp_path / f"{kind}.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = await trio.lowlevel.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=ROOT
        )
    try:
        with trio.fail_after(START_TIMEOUT):
            while b"\n" not in out_path.read_bytes():
                if process.poll() is not None:
                    raise AssertionError(
                        f"{kind} exited early ({process.returncode}): "
                        f"{err_path.read_text(errors='replace')}"
                    )
                await trio.sleep(POLL_INTERVAL)
        info = json.loads(out_path.read_bytes().split(b"\n", 1)[0])
        yield Victim(process, info, err_path, kind)
    finally:
        with trio.CancelScope(shield=True):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                with trio.move_on_after(10):
                    await process.wait()
            if process.poll() is None:
                process.kill()
                await process.wait()
