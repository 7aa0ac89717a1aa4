"""Build and run the HashiCorp yamux peer (``peer.go``) for interop tests and benchmarks.

The binary is cached under ``.cache/go-yamux-peer`` and rebuilt when ``peer.go`` changes.
Building needs ``go`` and the Debian package ``golang-github-hashicorp-yamux-dev``; when they
are missing the build fails loudly (no skip).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

SOURCE = Path(__file__).with_name("peer.go")
CACHE_DIR = Path(__file__).resolve().parents[3] / ".cache" / "go-yamux-peer"
GOPATH = "/usr/share/gocode"
YAMUX_SOURCE = Path(GOPATH) / "src/github.com/hashicorp/yamux"
INSTALL_HINT = "apt-get install -y golang-go golang-github-hashicorp-yamux-dev"


def build_peer() -> Path:
    """Return the path of the built peer, building it first if needed.

    Raises:
        RuntimeError: go or the yamux sources are missing, or the build failed.
    """
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    binary = CACHE_DIR / f"peer-{digest}"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None or not YAMUX_SOURCE.is_dir():
        raise RuntimeError(f"the Go yamux peer needs go and the yamux sources: {INSTALL_HINT}")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as gocache:
        env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOCACHE": gocache}
        partial = binary.with_suffix(".tmp")
        result = subprocess.run(
            [go, "build", "-o", str(partial), str(SOURCE)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"building {SOURCE} failed:\n{result.stderr}")
        partial.rename(binary)
    return binary


@asynccontextmanager
async def go_server(mode: str = "server", *, window: int = 256 * 1024) -> AsyncIterator[int]:
    """Run ``peer server`` (echo) or ``peer sink``; yield its TCP port on 127.0.0.1."""
    binary = await trio.to_thread.run_sync(build_peer)
    process = await trio.lowlevel.open_process(
        [str(binary), mode, "-window", str(window)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        line = bytearray()
        while not line.endswith(b"\n"):
            chunk = await process.stdout.receive_some(1)
            if not chunk:
                raise RuntimeError(f"the Go {mode} exited before printing its port")
            line += chunk
        yield int(json.loads(line)["port"])
    finally:
        with trio.CancelScope(shield=True):
            await process.stdin.aclose()
            with trio.move_on_after(5):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


async def go_client(
    port: int,
    *,
    streams: int = 1,
    size: int = 1 << 20,
    write: int = 65536,
    window: int = 256 * 1024,
    oneway: bool = False,
) -> dict[str, Any]:
    """Run ``peer client`` against 127.0.0.1:``port``; return its JSON report.

    Raises:
        RuntimeError: the client failed (its error is in the message).
    """
    binary = await trio.to_thread.run_sync(build_peer)
    args = [str(binary), "client", "-port", str(port), "-streams", str(streams)]
    args += ["-bytes", str(size), "-write", str(write), "-window", str(window)]
    if oneway:
        args.append("-oneway")
    result = await trio.run_process(args, capture_stdout=True, check=False)
    report: dict[str, Any] = json.loads(result.stdout.decode().strip().splitlines()[-1])
    if result.returncode != 0 or "error" in report:
        raise RuntimeError(f"the Go client failed: {report.get('error', result.returncode)}")
    return report
