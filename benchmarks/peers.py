"""The other implementations: js-libp2p and py-libp2p peer CLIs, HashiCorp's Go yamux peer,
and our own ``p2pstack node``. Each is started as a separate process.

The js, py and Go peers are programs of a p2pstack checkout (:mod:`p2pstack.benchmarks.checkout`):
the js and py ones are installed by ``scripts/setup-interop-peers.sh``, the Go one is built from
Debian's yamux sources. A missing one is reported (``missing``/:func:`go_missing`), never fatal.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import trio

from p2pstack.benchmarks.checkout import SETUP_SCRIPT, checkout, needs_checkout
from p2pstack.benchmarks.procs import PERF_ARGS, BenchError, Child, cli_argv, run_json, spawn

Impl = Literal["js", "py"]

JS_PEER: Final = Path("tests", "interop", "js", "peer.mjs")
PY_PEER: Final = Path("tests", "interop", "py", "peer.py")
GO_SOURCE: Final = Path("tests", "peers", "go_yamux", "peer.go")
GO_CACHE: Final = Path(".cache", "go-yamux-peer")
"""Paths inside the checkout."""
GOPATH: Final = Path("/usr/share/gocode")
GO_HINT: Final = (
    "the Go yamux peer needs go and HashiCorp's yamux "
    "(apt-get install golang-go golang-github-hashicorp-yamux-dev)"
)
LISTEN: Final = "/ip4/127.0.0.1/tcp/0"


@dataclass(frozen=True)
class PeerCommand:
    """How to run a peer CLI, or why it cannot run here."""

    argv: list[str]
    missing: str | None = None


def _root() -> Path:
    root = checkout()
    assert root is not None  # callers check needs_checkout() first
    return root


def peer_command(impl: Impl) -> PeerCommand:
    """The argv prefix of the js or py peer CLI (``listen`` / ``dial``)."""
    name = {"js": "the js-libp2p peer", "py": "the py-libp2p peer"}[impl]
    missing = needs_checkout(name)
    if missing:
        return PeerCommand([], missing)
    root = _root()
    setup = f"run {SETUP_SCRIPT} in {root}"
    if impl == "js":
        node = shutil.which("node")
        if node is None:
            return PeerCommand([], "node (Node.js >= 20) is not on PATH")
        if not (root / JS_PEER.parent / "node_modules" / "libp2p").is_dir():
            return PeerCommand([], f"js-libp2p is not installed ({setup})")
        return PeerCommand([node, str(root / JS_PEER)])
    venv = Path(os.environ.get("P2PSTACK_PYLIBP2P_VENV", root / ".cache" / "pylibp2p-venv"))
    python = venv / "bin" / "python"
    if not python.exists():
        return PeerCommand([], f"py-libp2p is not installed in {venv} ({setup})")
    return PeerCommand([str(python), str(root / PY_PEER)])


def go_missing() -> str | None:
    """None when the Go yamux peer can be built (or is built), else why not and what to do."""
    missing = needs_checkout("the Go yamux peer", setup_script=False)
    if missing:
        return missing
    return None if _go_tools() else GO_HINT


def _go_tools() -> bool:
    return shutil.which("go") is not None and (GOPATH / "src/github.com/hashicorp/yamux").is_dir()


def build_go_peer() -> Path:
    """The HashiCorp yamux peer binary (built once per ``peer.go`` version, cached in the
    checkout's ``.cache/``).

    Raises:
        BenchError: no checkout, go or the yamux sources are missing, or the build failed.
    """
    missing = needs_checkout("the Go yamux peer", setup_script=False)
    if missing:
        raise BenchError(missing)
    root = _root()
    source = root / GO_SOURCE
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    binary = root / GO_CACHE / f"peer-{digest}"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None or not _go_tools():
        raise BenchError(GO_HINT)
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as gocache:
        env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": gocache}
        partial = binary.with_suffix(f".{os.getpid()}.tmp")
        done = subprocess.run(
            [go, "build", "-o", str(partial), str(source)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"building {source} failed: {done.stderr.strip()}")
        partial.rename(binary)
    return binary


@dataclass
class Listening:
    """A server process and the address it listens on."""

    child: Child
    addr: str


def _tcp_addr(info: dict[str, Any], name: str) -> str:
    for addr in info.get("listen_addrs", []):
        if "/tcp/" in addr and "/ws" not in addr:
            return str(addr)
    raise BenchError(f"{name} printed no TCP listen address: {info}")


@asynccontextmanager
async def our_node(
    *, metrics: bool = False, security: str | None = None
) -> AsyncIterator[Listening]:
    """``p2pstack node --perf`` on loopback (ping, identify, echo, perf); with ``metrics``,
    Prometheus metrics on (``--metrics-addr`` on a loopback port); ``security``: the
    ``--security`` protocol (the CLI default, Noise, when None)."""
    argv = cli_argv("node", "--listen", LISTEN, *PERF_ARGS)
    if security is not None:
        argv += ["--security", security]
    if metrics:
        argv += ["--metrics-addr", "127.0.0.1:0"]
    async with spawn(argv, name="p2pstack node", terminate=True) as child:
        yield Listening(child, _tcp_addr(await child.read_json(), child.name))


@asynccontextmanager
async def peer_node(impl: Impl) -> AsyncIterator[Listening]:
    """A js-libp2p or py-libp2p ``listen`` peer on loopback."""
    command = peer_command(impl)
    if command.missing:
        raise BenchError(command.missing)
    argv = [*command.argv, "listen", "--listen", LISTEN]
    async with spawn(argv, name=f"{impl} peer listen") as child:
        yield Listening(child, _tcp_addr(await child.read_json(), child.name))


async def peer_dial(impl: Impl, addr: str, *, pings: int, upload: int) -> dict[str, Any]:
    """Run ``<impl> peer dial``: connect, ``pings`` pings, then a perf upload."""
    command = peer_command(impl)
    if command.missing:
        raise BenchError(command.missing)
    argv = [*command.argv, "dial", addr, "--ping", str(pings), "--perf-upload", str(upload)]
    return await run_json(argv, name=f"{impl} peer dial")


@asynccontextmanager
async def go_sink(window: int) -> AsyncIterator[int]:
    """The Go peer in ``sink`` mode; yields its TCP port."""
    binary = await trio.to_thread.run_sync(build_go_peer)
    argv = [str(binary), "sink", "-window", str(window)]
    async with spawn(argv, name="go yamux sink") as child:
        yield int((await child.read_json())["port"])


async def go_send(port: int, *, streams: int, per_stream: int, write: int, window: int) -> float:
    """Run the Go client (one-way sink protocol); return its MB/s."""
    binary = await trio.to_thread.run_sync(build_go_peer)
    argv = [str(binary), "client", "-oneway", "-port", str(port), "-streams", str(streams)]
    argv += ["-bytes", str(per_stream), "-write", str(write), "-window", str(window)]
    return float((await run_json(argv, name="go yamux client"))["mbps"])
