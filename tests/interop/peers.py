"""Start real js-libp2p and py-libp2p peers as separate processes, from trio tests.

Both peers share one CLI contract (tests/interop/js/peer.mjs, tests/interop/py/peer.py):

* ``listen --listen MA [--listen MA ...] [--seed LABEL]`` prints one JSON line
  ``{"peer_id": ..., "listen_addrs": [...]}`` and serves ping, identify, echo and perf
  until SIGTERM, SIGINT or EOF on stdin;
* ``dial MA [--ping N] [--identify] [--echo BYTES] [--streams K] [--perf-upload BYTES]
  [--perf-download BYTES]`` prints one JSON line with the results.

Usage::

    async with js_peer_listening(seed="alice") as peer:
        result = await run_py_dial(peer.addr(), ping=5, identify=True)

The peers are installed by ``scripts/setup-interop-peers.sh``; when one is missing or
stale every helper raises :class:`InteropSetupError` (tests fail, they never skip).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any, Literal, TypedDict, Unpack

import trio

Impl = Literal["js", "py"]

INTEROP_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEROP_DIR.parent.parent
JS_DIR = INTEROP_DIR / "js"
JS_PEER = JS_DIR / "peer.mjs"
PY_DIR = INTEROP_DIR / "py"
PY_PEER = PY_DIR / "peer.py"
PY_REQUIREMENTS = PY_DIR / "requirements.txt"
SETUP_SCRIPT = "scripts/setup-interop-peers.sh"
STAMP_NAME = ".p2pstack-stamp"

DEFAULT_LISTEN = ("/ip4/127.0.0.1/tcp/0",)
LISTEN_TIMEOUT = 30.0
DIAL_TIMEOUT = 120.0
STOP_GRACE = 5.0


class InteropPeerError(Exception):
    """A peer process failed; the message includes the tail of its stderr."""


class InteropSetupError(InteropPeerError):
    """A peer is not installed (or is stale): run scripts/setup-interop-peers.sh."""


def _setup_hint(what: str) -> InteropSetupError:
    return InteropSetupError(
        f"{what}. Run `{SETUP_SCRIPT}` from the repository root ({REPO_ROOT}) to install "
        "the interop peers (js-libp2p via npm ci, py-libp2p in its own venv)."
    )


# ---------------------------------------------------------------- locating peers


def py_venv_dir() -> Path:
    """The py-libp2p venv: $P2PSTACK_PYLIBP2P_VENV or <repo>/.cache/pylibp2p-venv."""
    env = os.environ.get("P2PSTACK_PYLIBP2P_VENV")
    return Path(env) if env else REPO_ROOT / ".cache" / "pylibp2p-venv"


def _sha256_of(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


@cache
def _node_major(node: str) -> int:
    out = subprocess.run(
        [node, "-p", "process.versions.node.split('.')[0]"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    try:
        return int(out.stdout.strip())
    except ValueError:
        raise InteropSetupError(f"cannot run {node}: {out.stderr.strip()}") from None


def js_peer_command() -> list[str]:
    """argv prefix to run the js peer; raises InteropSetupError when not installed."""
    node = shutil.which("node")
    if node is None:
        raise _setup_hint("node (Node.js >= 20) is not on PATH")
    major = _node_major(node)
    if major < 20:
        raise _setup_hint(f"Node.js >= 20 is required, found major version {major}")
    stamp = JS_DIR / "node_modules" / STAMP_NAME
    if not (JS_DIR / "node_modules" / "libp2p").is_dir() or not stamp.is_file():
        raise _setup_hint(f"js-libp2p is not installed in {JS_DIR / 'node_modules'}")
    want = f"{_sha256_of(JS_DIR / 'package.json', JS_DIR / 'package-lock.json')} node{major}"
    if stamp.read_text().strip() != want:
        raise _setup_hint(
            f"{JS_DIR / 'node_modules'} is stale (package.json, package-lock.json or the "
            "Node version changed since npm ci)"
        )
    return [node, str(JS_PEER)]


def py_peer_command() -> list[str]:
    """argv prefix to run the py peer; raises InteropSetupError when not installed."""
    venv = py_venv_dir()
    python = venv / "bin" / "python"
    stamp = venv / STAMP_NAME
    if not python.exists() or not stamp.is_file():
        raise _setup_hint(f"the py-libp2p venv {venv} is missing")
    version = ""
    cfg = venv / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version", "version_info"):
                version = ".".join(value.strip().split(".")[:2])
                break
    want = f"{_sha256_of(PY_REQUIREMENTS)} py{version}"
    if stamp.read_text().strip() != want:
        raise _setup_hint(f"the py-libp2p venv {venv} is stale ({PY_REQUIREMENTS} changed)")
    return [str(python), str(PY_PEER)]


def peer_command(impl: Impl) -> list[str]:
    if impl == "js":
        return js_peer_command()
    if impl == "py":
        return py_peer_command()
    raise ValueError(f"unknown peer implementation {impl!r}")


def check_peers_installed() -> None:
    """Raise InteropSetupError unless both peers are installed and up to date."""
    js_peer_command()
    py_peer_command()


# ------------------------------------------------------------------ process utils


def _read_file(f: IO[bytes]) -> str:
    size = os.fstat(f.fileno()).st_size
    return os.pread(f.fileno(), size, 0).decode("utf-8", "replace")


def _tail(text: str, lines: int = 25) -> str:
    kept = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


def _error_line(stderr: str) -> str:
    """The peer's one-line error (``error: ...``), else the last stderr line."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("error: "):
            return ln[len("error: ") :]
    return lines[-1] if lines else "(no stderr)"


async def _stop_process(proc: trio.Process, grace: float = STOP_GRACE) -> None:
    """Stdin EOF, then SIGTERM, then SIGKILL; always reaps. Runs shielded."""
    with trio.CancelScope(shield=True):
        if proc.returncode is None and proc.stdin is not None:
            with trio.move_on_after(1):
                with suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    await proc.stdin.aclose()
        if proc.returncode is None:
            with trio.move_on_after(grace / 2):
                await proc.wait()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            with trio.move_on_after(grace / 2):
                await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# ---------------------------------------------------------------------- listening


@dataclass
class ListeningPeer:
    """A running ``listen`` peer process."""

    impl: Impl
    peer_id: str
    listen_addrs: list[str]
    process: trio.Process = field(repr=False)
    _stderr: IO[bytes] = field(repr=False)

    def addr(self, transport: Literal["tcp", "ws"] = "tcp") -> str:
        """The first listen address (with /p2p/<id>) for ``transport``."""
        for a in self.listen_addrs:
            is_ws = "/ws/" in a or a.endswith("/ws")
            if (transport == "ws") == is_ws:
                return a
        raise InteropPeerError(f"{self.impl} peer has no {transport} address: {self.listen_addrs}")

    def stderr(self) -> str:
        """Everything the peer has written to stderr so far."""
        return _read_file(self._stderr)

    def is_running(self) -> bool:
        return self.process.poll() is None


@asynccontextmanager
async def peer_listening(
    impl: Impl,
    *,
    listen: Sequence[str] = DEFAULT_LISTEN,
    seed: str | None = None,
    startup_timeout: float = LISTEN_TIMEOUT,
    env: dict[str, str] | None = None,
) -> AsyncIterator[ListeningPeer]:
    """Run ``<impl> peer listen`` for the duration of the block.

    Waits (up to ``startup_timeout`` s) for the peer's JSON line; stops the process on exit
    (stdin EOF, then SIGTERM, then SIGKILL), also when the block fails or is cancelled.
    """
    argv = [*peer_command(impl), "listen"]
    for ma in listen:
        argv += ["--listen", ma]
    if seed is not None:
        argv += ["--seed", seed]
    async with _listening(impl, argv, startup_timeout=startup_timeout, env=env) as peer:
        yield peer


@asynccontextmanager
async def _listening(
    impl: Impl, argv: list[str], *, startup_timeout: float, env: dict[str, str] | None
) -> AsyncIterator[ListeningPeer]:
    """Start ``argv``, wait for its ``{"peer_id", "listen_addrs"}`` line, stop it on exit."""
    # Files, not pipes: nothing has to drain them while the test runs, so a chatty peer
    # can never block on a full pipe, and no background task is needed.
    with (
        tempfile.TemporaryFile(prefix=f"{impl}-peer-out-") as out,
        tempfile.TemporaryFile(prefix=f"{impl}-peer-err-") as err,
    ):
        proc = await trio.lowlevel.open_process(
            argv,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
            cwd=str(REPO_ROOT),
        )
        try:
            line = ""
            with trio.move_on_after(startup_timeout):
                while True:
                    text = _read_file(out)
                    if "\n" in text:
                        line = text.split("\n", 1)[0]
                        break
                    if proc.poll() is not None:
                        break
                    await trio.sleep(0.02)
            if not line:
                if proc.poll() is not None:
                    why = f"exited with status {proc.returncode} before listening"
                else:
                    why = f"printed no JSON line within {startup_timeout} s"
                raise InteropPeerError(
                    f"{impl} peer {why}: {' '.join(argv)}\n--- stderr ---\n{_tail(_read_file(err))}"
                )
            try:
                info = json.loads(line)
                peer = ListeningPeer(
                    impl=impl,
                    peer_id=str(info["peer_id"]),
                    listen_addrs=[str(a) for a in info["listen_addrs"]],
                    process=proc,
                    _stderr=err,
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise InteropPeerError(
                    f"{impl} peer printed an unexpected line {line!r} ({exc})\n"
                    f"--- stderr ---\n{_tail(_read_file(err))}"
                ) from None
            yield peer
            if proc.poll() is not None:
                raise InteropPeerError(
                    f"{impl} peer exited with status {proc.returncode} while in use\n"
                    f"--- stderr ---\n{_tail(_read_file(err))}"
                )
        finally:
            await _stop_process(proc)


def js_peer_listening(
    *,
    listen: Sequence[str] = DEFAULT_LISTEN,
    seed: str | None = None,
    startup_timeout: float = LISTEN_TIMEOUT,
    env: dict[str, str] | None = None,
) -> AbstractAsyncContextManager[ListeningPeer]:
    """``async with js_peer_listening(seed=...) as peer:`` -> :class:`ListeningPeer`."""
    return peer_listening("js", listen=listen, seed=seed, startup_timeout=startup_timeout, env=env)


def py_peer_listening(
    *,
    listen: Sequence[str] = DEFAULT_LISTEN,
    seed: str | None = None,
    startup_timeout: float = LISTEN_TIMEOUT,
    env: dict[str, str] | None = None,
) -> AbstractAsyncContextManager[ListeningPeer]:
    """``async with py_peer_listening(seed=...) as peer:`` -> :class:`ListeningPeer`."""
    return peer_listening("py", listen=listen, seed=seed, startup_timeout=startup_timeout, env=env)


# --------------------------------------------------------------------------- dial


class DialOptions(TypedDict, total=False):
    """Keyword arguments of :func:`run_dial` / :func:`run_js_dial` / :func:`run_py_dial`."""

    ping: int | None  # --ping N: N round trips on one /ipfs/ping/1.0.0 stream
    identify: bool  # --identify
    echo: int | None  # --echo BYTES (random, verified byte for byte)
    streams: int | None  # --streams K: K concurrent echo streams (needs echo)
    perf_upload: int | None  # --perf-upload BYTES
    perf_download: int | None  # --perf-download BYTES
    seed: str | None  # the dialer's identity: Ed25519 seed = sha256(seed)
    dial_timeout: float  # seconds for the whole dial (default DIAL_TIMEOUT)
    env: dict[str, str] | None  # extra environment, e.g. {"INTEROP_PEER_LOG": "debug"}


def dial_argv(
    ma: str,
    *,
    ping: int | None = None,
    identify: bool = False,
    echo: int | None = None,
    streams: int | None = None,
    perf_upload: int | None = None,
    perf_download: int | None = None,
    seed: str | None = None,
    timeout: float | None = None,
) -> list[str]:
    """The ``dial`` arguments (after the peer command) for the given actions."""
    argv = ["dial", ma]
    if seed is not None:
        argv += ["--seed", seed]
    if ping:
        argv += ["--ping", str(ping)]
    if identify:
        argv.append("--identify")
    if echo is not None:
        argv += ["--echo", str(echo)]
    if streams is not None:
        argv += ["--streams", str(streams)]
    if perf_upload is not None:
        argv += ["--perf-upload", str(perf_upload)]
    if perf_download is not None:
        argv += ["--perf-download", str(perf_download)]
    if timeout is not None:
        argv += ["--timeout", f"{timeout:g}"]
    return argv


async def run_dial(
    impl: Impl,
    ma: str,
    *,
    ping: int | None = None,
    identify: bool = False,
    echo: int | None = None,
    streams: int | None = None,
    perf_upload: int | None = None,
    perf_download: int | None = None,
    seed: str | None = None,
    dial_timeout: float = DIAL_TIMEOUT,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``<impl> peer dial MA ...`` and return its parsed JSON result.

    Raises :class:`InteropPeerError` (with the peer's error line and stderr tail) when the
    peer exits non-zero, prints no JSON, or takes longer than ``dial_timeout`` seconds.
    """
    argv = peer_command(impl) + dial_argv(
        ma,
        ping=ping,
        identify=identify,
        echo=echo,
        streams=streams,
        perf_upload=perf_upload,
        perf_download=perf_download,
        seed=seed,
        timeout=dial_timeout,  # the peer enforces it too and reports what it was doing
    )
    # A little slack so the peer's own timeout (with a useful message) fires first.
    return await _run_json(f"{impl} dial", argv, time_limit=dial_timeout + 10, env=env)


async def run_js_dial(ma: str, **options: Unpack[DialOptions]) -> dict[str, Any]:
    """Dial ``ma`` from a js-libp2p process; see :func:`run_dial`."""
    return await run_dial("js", ma, **options)


async def run_py_dial(ma: str, **options: Unpack[DialOptions]) -> dict[str, Any]:
    """Dial ``ma`` from a py-libp2p process; see :func:`run_dial`."""
    return await run_dial("py", ma, **options)


# ------------------------------------------------------- other scripts, same runtimes


def script_command(impl: Impl, script: Path) -> list[str]:
    """argv prefix to run ``script`` with the js or py peer's runtime (installation checked)."""
    return [peer_command(impl)[0], str(script)]


@asynccontextmanager
async def script_listening(
    impl: Impl,
    script: Path,
    args: Sequence[str],
    *,
    startup_timeout: float = LISTEN_TIMEOUT,
    env: dict[str, str] | None = None,
) -> AsyncIterator[ListeningPeer]:
    """Run ``script args`` until the block exits; it must print ``{"peer_id", "listen_addrs"}``.

    Same contract as :func:`peer_listening` (stdin EOF, then SIGTERM, then SIGKILL on exit).
    """
    argv = [*script_command(impl, script), *args]
    async with _listening(impl, argv, startup_timeout=startup_timeout, env=env) as peer:
        yield peer


async def run_script(
    impl: Impl,
    script: Path,
    args: Sequence[str],
    *,
    time_limit: float = DIAL_TIMEOUT,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``script args`` to completion and return the JSON object on its first stdout line.

    Raises InteropPeerError (with its error line and stderr tail) on a non-zero exit.
    """
    argv = [*script_command(impl, script), *args]
    return await _run_json(script.name, argv, time_limit=time_limit, env=env)


async def _run_json(
    what: str, argv: list[str], *, time_limit: float, env: dict[str, str] | None
) -> dict[str, Any]:
    """Run ``argv`` to completion (killed after ``time_limit`` s); return its first JSON line.

    Raises InteropPeerError with the error line and stderr tail on timeout, a non-zero exit,
    or output that is not a JSON object.
    """
    result: subprocess.CompletedProcess[bytes] | None = None
    with trio.move_on_after(time_limit):
        result = await trio.run_process(
            argv,
            stdin=subprocess.DEVNULL,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env={**os.environ, **(env or {})},
            cwd=str(REPO_ROOT),
        )
    if result is None:
        raise InteropPeerError(f"{what} timed out after {time_limit:g} s: {' '.join(argv)}")
    stdout = result.stdout.decode("utf-8", "replace")
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0:
        raise InteropPeerError(
            f"{what} failed (exit {result.returncode}): {_error_line(stderr)}\n"
            f"command: {' '.join(argv)}\n--- stderr ---\n{_tail(stderr)}"
        )
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        parsed = json.loads(lines[0])
        if not isinstance(parsed, dict):
            raise TypeError("not a JSON object")
    except (IndexError, ValueError, TypeError) as exc:
        raise InteropPeerError(
            f"{what} printed no JSON result ({exc}); stdout={stdout!r}\n"
            f"--- stderr ---\n{_tail(stderr)}"
        ) from None
    return parsed
