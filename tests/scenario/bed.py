"""Faults on top of the namespace LAN of :mod:`tests.helpers.netns`, and ``p2pstack`` in it.

The hosts are ``lan.hosts[i]`` (10.79.0.<i+1>) with ``eth0`` plugged into port ``v<i+1>`` of
the bridge namespace; every fault acts on that port inside the bridge namespace, so the hosts'
kernels are untouched (a "vanished" host is one whose frames the switch drops):

* :func:`link_down` / :func:`link_up`: the port loses carrier (an unplugged cable);
* :func:`blackhole`: nftables (bridge family) drops every frame from and to the port;
* :func:`impaired`: the port is rewired through :mod:`tests.scenario.netem` (delay, loss).

:func:`connection_sockets` counts the TCP connection sockets a process holds open: the
observable "the node released the connection" (the fd is closed, not only the TCP state).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import trio

from tests.helpers.netns import REPO_ROOT, Host, Lan, NsProcess, run_in

P2PSTACK = [sys.executable, "-m", "p2pstack.cli.main"]
PORT = 4001


def sh(ns: str | None, *cmd: str, stdin: str | None = None) -> str:
    """Run ``cmd`` (in namespace ``ns``); its stdout, or AssertionError with its stderr."""
    argv = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=30, cwd=REPO_ROOT
    )
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr.strip()}"
    return done.stdout


def port_of(lan: Lan, host: Host) -> str:
    """The bridge port ``host`` is plugged into."""
    return f"v{lan.hosts.index(host) + 1}"


def maddr(host: Host, port: int = PORT) -> str:
    return f"/ip4/{host.ip}/tcp/{port}"


def link_down(lan: Lan, host: Host) -> None:
    sh(None, "ip", "-n", lan.bridge_ns, "link", "set", port_of(lan, host), "down")


def link_up(lan: Lan, host: Host) -> None:
    sh(None, "ip", "-n", lan.bridge_ns, "link", "set", port_of(lan, host), "up")


def blackhole(lan: Lan, host: Host) -> None:
    """From now on the switch drops every frame from and to ``host`` (undo: :func:`clear`)."""
    port = port_of(lan, host)
    rules = f"""table bridge fault_{port} {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    iifname "{port}" drop
    oifname "{port}" drop
  }}
}}
"""
    sh(lan.bridge_ns, "nft", "-f", "-", stdin=rules)


def clear(lan: Lan, host: Host) -> None:
    """Undo :func:`blackhole`."""
    sh(lan.bridge_ns, "nft", "delete", "table", "bridge", f"fault_{port_of(lan, host)}")


def rate_limit(lan: Lan, host: Host, mbytes_per_s: int) -> None:
    """Police the frames ``host`` receives to ``mbytes_per_s`` (excess dropped): a bulk
    transfer to it lasts long enough to be interrupted without burning the CPU."""
    port = port_of(lan, host)
    rules = f"""table bridge rate_{port} {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    oifname "{port}" limit rate over {mbytes_per_s} mbytes/second burst 256 kbytes drop
  }}
}}
"""
    sh(lan.bridge_ns, "nft", "-f", "-", stdin=rules)


def _plain_frames(ns: str, *devs: str) -> None:
    """No GSO super-frames and complete checksums on ``devs``: frames a userspace bridge can
    forward as they are."""
    for dev in devs:
        sh(None, "ip", "-n", ns, "link", "set", "dev", dev, "gso_max_segs", "1",
           "gso_max_size", "1500")  # fmt: skip
    sh(ns, sys.executable, "-m", "tests.scenario.netem", "plain", *devs)


@contextlib.asynccontextmanager
async def impaired(lan: Lan, host: Host, *, delay_ms: float, loss: float) -> AsyncIterator[None]:
    """Rewire ``host``'s port through the userspace netem: ``delay_ms`` one way and ``loss``
    percent of frames dropped, in each direction. The other hosts' NICs send plain frames."""
    br = lan.bridge_ns
    port = port_of(lan, host)
    near, far = f"{port}n", f"{port}m"
    sh(None, "ip", "-n", br, "link", "set", port, "nomaster")
    sh(None, "ip", "-n", br, "link", "add", near, "type", "veth", "peer", "name", far)
    sh(None, "ip", "-n", br, "link", "set", far, "master", "br0", "up")
    sh(None, "ip", "-n", br, "link", "set", near, "up")
    for h in lan.hosts:
        _plain_frames(h.ns, "eth0")
    _plain_frames(br, port, near, far)
    argv = [sys.executable, "-m", "tests.scenario.netem", "bridge", port, near]
    argv += ["--delay", str(delay_ms), "--loss", str(loss)]
    async with run_in(br, argv, label="netem") as netem:
        await netem.wait_for("ready", lambda lines: any("ready" in x for x in lines), 10)
        yield


@contextlib.asynccontextmanager
async def p2pstack(host: Host, *args: str, label: str) -> AsyncIterator[NsProcess]:
    """``p2pstack ARGS`` (this worktree's code) in ``host``'s namespace for the block."""
    async with run_in(host.ns, [*P2PSTACK, *args], label=label) as proc:
        yield proc


async def started(proc: NsProcess, within: float = 30.0) -> dict[str, Any]:
    """The first JSON line with a ``peer_id`` (a node or relay is up)."""
    lines = await proc.wait_for("start line", lambda ls: any("peer_id" in x for x in ls), within)
    return next(x for x in lines if "peer_id" in x)


async def exited(proc: NsProcess, within: float) -> int:
    """Wait for ``proc`` to exit; its status (AssertionError with its output otherwise)."""
    with trio.move_on_after(within):
        return await proc.process.wait()
    raise AssertionError(f"{proc.label} still running after {within} s\n{proc.describe()}")


def kill(proc: NsProcess) -> float:
    """SIGKILL ``proc``; the monotonic time of the kill."""
    proc.process.send_signal(signal.SIGKILL)
    return time.monotonic()


def connection_sockets(pid: int) -> int:
    """TCP connection sockets ``pid`` holds open (listeners, UDP and unix sockets excluded);
    a socket the peer reset still counts until the process closes it."""
    inodes: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in os.listdir(fd_dir):
        with contextlib.suppress(FileNotFoundError):
            target = os.readlink(fd_dir / fd)
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    other: set[int] = set()
    for table, column in (("unix", 6), ("udp", 9), ("udp6", 9), ("tcp", 9), ("tcp6", 9)):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) <= column:
                    continue
                if table.startswith("tcp") and fields[3] != "0A":  # 0A: LISTEN
                    continue
                other.add(int(fields[column]))
    return len(inodes - other)


async def until(what: str, check: Callable[[], bool], within: float) -> float:
    """Poll ``check`` until true; the seconds it took (AssertionError after ``within``)."""
    start = time.monotonic()
    with trio.move_on_after(within):
        while True:
            if check():
                return time.monotonic() - start
            await trio.sleep(0.05)
    raise AssertionError(f"no {what} within {within} s")


async def released_after(proc: NsProcess, since: float, within: float) -> float | None:
    """Seconds from ``since`` until ``proc`` holds no TCP connection, or None if it still does
    after ``within`` seconds from ``since``."""
    pid = proc.process.pid
    with trio.move_on_after(max(0.0, since + within - time.monotonic())):
        while connection_sockets(pid) > 0:
            assert proc.process.poll() is None, f"{proc.label} died\n{proc.describe()}"
            await trio.sleep(0.05)
        return time.monotonic() - since
    return None


def one_line_error(proc: NsProcess, command: str) -> str:
    """Assert ``proc`` failed as the CLI promises: one ``p2pstack CMD: error:`` line, no
    traceback; that line."""
    err = proc.stderr()
    assert "Traceback" not in err, proc.describe()
    errors = [x for x in err.splitlines() if x.startswith(f"p2pstack {command}: error: ")]
    assert len(errors) == 1, proc.describe()
    return errors[0]


def log_count(proc: NsProcess, text: str) -> int:
    return sum(text in line for line in proc.stderr().splitlines())
