"""Throwaway network namespaces for the mDNS tests, and processes run inside them.

:func:`lan` builds hosts ``<prefix>h1..hN`` (``eth0`` = 10.79.0.i/24, plus ``lo``) on a bridge
in ``<prefix>br``. The veths are created inside the namespaces, so nothing is added to the
root namespace and nothing reaches the machine's real interfaces. Names carry the PID and
random bytes (runs on one machine never clash). Teardown kills what runs inside and deletes
every namespace, also when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import trio

REPO_ROOT = Path(__file__).resolve().parents[2]
SUBNET = "10.79.0"


@dataclass(frozen=True)
class Host:
    """One namespace on the bridge."""

    ns: str
    ip: str


@dataclass
class Lan:
    """Hosts on one bridge."""

    bridge_ns: str
    hosts: list[Host] = field(default_factory=list)

    @property
    def namespaces(self) -> list[str]:
        return [h.ns for h in self.hosts] + [self.bridge_ns]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def can_use_netns() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if subprocess.run(["which", "ip"], capture_output=True, check=False).returncode != 0:
        return "iproute2 (ip) is not installed"
    return None


def _delete(ns: str) -> None:
    pids = _ip("netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _ip("netns", "del", ns, check=False)


@contextlib.contextmanager
def lan(count: int = 3) -> Iterator[Lan]:
    """``count`` hosts on a bridge, removed on exit."""
    prefix = f"p2pm{os.getpid() % 100000}{secrets.token_hex(2)}"
    net = Lan(bridge_ns=f"{prefix}br")
    try:
        _ip("netns", "del", net.bridge_ns, check=False)  # a stale /run/netns file
        _ip("netns", "add", net.bridge_ns)
        br = net.bridge_ns
        _ip("-n", br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        _ip("-n", br, "link", "set", "br0", "up")
        for i in range(1, count + 1):
            host = Host(f"{prefix}h{i}", f"{SUBNET}.{i}")
            _ip("netns", "del", host.ns, check=False)
            _ip("netns", "add", host.ns)
            net.hosts.append(host)
            _ip("-n", host.ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"v{i}",
                "netns", br)  # fmt: skip
            _ip("-n", br, "link", "set", f"v{i}", "master", "br0")
            _ip("-n", br, "link", "set", f"v{i}", "up")
            _ip("-n", host.ns, "addr", "add", f"{host.ip}/24", "dev", "eth0")
            _ip("-n", host.ns, "link", "set", "lo", "up")
            _ip("-n", host.ns, "link", "set", "eth0", "up")
            # Multicast senders that leave the interface to the kernel (multicast-dns in
            # js) need a route for 224.0.0.0/4; the namespace has no default route.
            _ip("-n", host.ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        yield net
    finally:
        for ns in [h.ns for h in net.hosts] + [net.bridge_ns]:
            _delete(ns)


class NsProcess:
    """A process in a namespace whose stdout is JSON lines (read from a file, no pipe)."""

    def __init__(self, label: str, proc: trio.Process, out: IO[bytes], err: IO[bytes]) -> None:
        self.label = label
        self.process = proc
        self._out = out
        self._err = err

    @staticmethod
    def _read(f: IO[bytes]) -> str:
        size = os.fstat(f.fileno()).st_size
        return os.pread(f.fileno(), size, 0).decode("utf-8", "replace")

    def lines(self) -> list[dict[str, Any]]:
        """Every complete JSON object line printed so far."""
        out: list[dict[str, Any]] = []
        for line in self._read(self._out).splitlines(keepends=True):
            if not line.endswith("\n"):
                break
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict):
                    out.append(value)
        return out

    def stderr(self) -> str:
        return self._read(self._err)

    def describe(self) -> str:
        tail = "\n".join(self.stderr().strip().splitlines()[-30:])
        return f"--- {self.label} stdout ---\n{self._read(self._out)}--- stderr ---\n{tail}"

    async def wait_for(
        self, what: str, check: Callable[[list[dict[str, Any]]], bool], within: float
    ) -> list[dict[str, Any]]:
        """Poll the output until ``check(lines)``; fail with both streams otherwise."""
        with trio.move_on_after(within):
            while True:
                lines = self.lines()
                if check(lines):
                    return lines
                if self.process.poll() is not None:
                    break
                await trio.sleep(0.1)
        raise AssertionError(f"{self.label}: no {what} within {within} s\n{self.describe()}")

    def first(self, key: str) -> dict[str, Any]:
        for line in self.lines():
            if key in line:
                return line
        raise AssertionError(f"{self.label} printed no {key!r} line\n{self.describe()}")

    async def stop(self) -> None:
        proc = self.process
        with trio.CancelScope(shield=True):
            if proc.returncode is None and proc.stdin is not None:
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await proc.stdin.aclose()
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if proc.returncode is not None:
                    break
                if sig is not None:
                    proc.send_signal(sig)
                with trio.move_on_after(3):
                    await proc.wait()


@contextlib.asynccontextmanager
async def run_in(
    ns: str, argv: Sequence[str], *, label: str, env: dict[str, str] | None = None
) -> Any:
    """Run ``argv`` in namespace ``ns`` for the block; stopped on exit."""
    with (
        tempfile.TemporaryFile(prefix=f"{label}-out-") as out,
        tempfile.TemporaryFile(prefix=f"{label}-err-") as err,
    ):
        proc = await trio.lowlevel.open_process(
            ["ip", "netns", "exec", ns, *argv],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            cwd=str(REPO_ROOT),
            env={**os.environ, **(env or {})},
        )
        handle = NsProcess(label, proc, out, err)
        try:
            yield handle
        finally:
            await handle.stop()
