"""The soak run: a ``p2pstack node`` and a ``p2pstack relay`` under honest load and attacks.

Both are child processes on 127.0.0.1. The driver (this process) runs the honest peers and
the attackers, samples both children (RSS, fds) and the latency percentiles every
``sample`` seconds, prints a progress line, rewrites ``soak.json`` after each sample and
draws ``soak.png`` at the end. It stops by itself after ``minutes``.
"""

from __future__ import annotations

import ctypes
import json
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Final

import trio

from p2pstack.benchmarks.checkout import child_cwd
from p2pstack.benchmarks.soak import attacks, honest
from p2pstack.benchmarks.soak.stats import Counters, Series, process_sample, summary_ms
from p2pstack.cli.common import client_protocols
from p2pstack.compose import open_node
from p2pstack.multiaddr import Multiaddr

HONEST: Final = ("ping", "rr", "connect", "relayed", "perf")
PR_SET_PDEATHSIG: Final = 1
ATTACK_SUBNETS: Final = 4
"""The silent and half-handshake connections come from this many /24s (127.66.i.1 against
the node, 127.67.i.1 against the relay); the RST loop from one more address."""


@dataclass(frozen=True, kw_only=True)
class SoakConfig:
    """What to run and for how long (seconds unless named otherwise)."""

    minutes: float = 30.0
    sample: float = 10.0
    out: Path = Path("bench-results/soak")
    attacks: bool = True
    silent: int = 16
    """Silent connections held against the node (8 against the relay)."""
    partial: int = 16
    """Connections stuck in the Noise handshake held against the node (8 against the relay)."""
    rst_rate: float = 20.0
    """Connect+RST per second against the node (a quarter of it against the relay)."""
    unread_streams: int = 32
    unread_write: int = 64 << 10
    flood_streams: int = 4
    perf_size: int = 4 << 20


class SoakProcess:
    """A ``p2pstack`` subcommand run with this interpreter; stdout and stderr in files."""

    def __init__(self, name: str, args: list[str], out_dir: Path) -> None:
        self.name = name
        self.stdout_path = out_dir / f"{name}.out"
        self.stderr_path = out_dir / f"{name}.err"
        self._files: list[IO[bytes]] = [self.stdout_path.open("wb"), self.stderr_path.open("wb")]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "p2pstack.cli.main", *args],
            stdout=self._files[0],
            stderr=self._files[1],
            stdin=subprocess.DEVNULL,
            cwd=child_cwd(),
            preexec_fn=_die_with_parent,
        )

    def json_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.stdout_path.read_text(errors="replace").splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                lines.append(value)
        return lines

    async def first_line(self, within: float = 30.0) -> dict[str, Any]:
        with trio.move_on_after(within):
            while True:
                for line in self.json_lines():
                    if "peer_id" in line:
                        return line
                if self.proc.poll() is not None:
                    break
                await trio.sleep(0.05)
        tail = self.stderr_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{self.name} did not start (status {self.proc.poll()}):\n{tail}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in self._files:
            f.close()
        return self.proc.returncode


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the driver dies, even by SIGKILL (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


class Soak:
    def __init__(self, config: SoakConfig) -> None:
        self.config = config
        self.counters = Counters()
        self.series = {name: Series() for name in HONEST}
        self.held = {"silent": Series(), "partial": Series()}
        self.samples: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.info: dict[str, Any] = {}
        self.stopped_early = False

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        cfg.out.mkdir(parents=True, exist_ok=True)
        relay = SoakProcess("relay", ["relay", "--listen", "/ip4/127.0.0.1/tcp/0",
                                "--stats-interval", str(cfg.sample)], cfg.out)  # fmt: skip
        node: SoakProcess | None = None
        try:
            relay_info = await relay.first_line()
            relay_addr = relay_info["listen_addrs"][0]
            node = SoakProcess("node", ["-v", "node", "--listen", "/ip4/127.0.0.1/tcp/0", "--perf",
                                  "--rr-echo", honest.RR_PROTOCOL, "--relay-via", relay_addr],
                         cfg.out)  # fmt: skip
            node_info = await node.first_line()
            self.info = {"node": node_info, "relay": relay_info, "config": _jsonable(cfg)}
            await self._drive(node, relay, node_info, relay_addr)
        finally:
            statuses = {"relay": relay.stop()}
            if node is not None:
                statuses["node"] = node.stop()
        return self._finish(statuses, node, relay)

    async def _drive(
        self, node: SoakProcess, relay: SoakProcess, node_info: dict[str, Any], relay_addr: str
    ) -> None:
        cfg = self.config
        direct = Multiaddr(next(a for a in node_info["listen_addrs"] if "p2p-circuit" not in a))
        circuit = Multiaddr(next(a for a in node_info["listen_addrs"] if "p2p-circuit" in a))
        node_host, node_port = _host_port(direct)
        relay_host, relay_port = _host_port(Multiaddr(relay_addr))
        c, s = self.counters, self.series
        async with (
            open_node(protocols=client_protocols()) as honest_node,
            open_node(protocols=client_protocols()) as attacker,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(honest.ping_loop, honest_node, direct, 0.2, s["ping"], c)
            nursery.start_soon(honest.rr_loop, direct, 0.5, s["rr"], c)
            nursery.start_soon(honest.fresh_peer_loop, "connect", direct, 2.0, s["connect"], c)
            nursery.start_soon(honest.fresh_peer_loop, "relayed", circuit, 3.0, s["relayed"], c)
            nursery.start_soon(
                honest.perf_loop, honest_node, direct, cfg.perf_size, 20.0, s["perf"], c
            )
            if cfg.attacks:
                targets = ((node_host, node_port, 1, 66), (relay_host, relay_port, 2, 67))
                for host, port, share, net in targets:
                    sources = [f"127.{net}.{i}.1" for i in range(ATTACK_SUBNETS)]
                    rst_from = f"127.{net}.200.1"
                    nursery.start_soon(attacks.rst_loop, host, port, rst_from,
                                       cfg.rst_rate / share**2, c)  # fmt: skip
                    nursery.start_soon(attacks.silent_pool, host, port, sources,
                                       cfg.silent // share, c, self.held["silent"])  # fmt: skip
                    nursery.start_soon(attacks.partial_handshake_pool, host, port, sources,
                                       cfg.partial // share, c, self.held["partial"])  # fmt: skip
                nursery.start_soon(attacks.unread_streams, attacker, direct, cfg.unread_streams,
                                   cfg.unread_write, 20.0, c)  # fmt: skip
                nursery.start_soon(attacks.ping_flood, attacker, direct, cfg.flood_streams, 5.0,
                                   10.0, c)  # fmt: skip
            nursery.start_soon(self._stop_on_signal, nursery.cancel_scope)
            end = self.started + cfg.minutes * 60
            while time.monotonic() < end:
                await trio.sleep(max(0.0, min(cfg.sample, end - time.monotonic())))
                self._sample(node, relay)
                if node.proc.poll() is not None or relay.proc.poll() is not None:
                    print("a child process died; stopping", flush=True)
                    break
            nursery.cancel_scope.cancel()

    async def _stop_on_signal(self, scope: trio.CancelScope) -> None:
        """SIGINT or SIGTERM ends the run early; the summary and chart are still written."""
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                print(f"signal {signum}: stopping early", flush=True)
                self.stopped_early = True
                scope.cancel()
                return

    def _sample(self, node: SoakProcess, relay: SoakProcess) -> None:
        elapsed = time.monotonic() - self.started
        relay_stats = [x["stats"] for x in relay.json_lines() if "stats" in x]
        node_now, relay_now = process_sample(node.proc.pid), process_sample(relay.proc.pid)
        lat = {name: series.take_window() for name, series in self.series.items()}
        sample: dict[str, Any] = {
            "t": round(elapsed, 1),
            "node": node_now,
            "relay": relay_now,
            "latency": lat,
            "held_by_target": {k: v.take_window() for k, v in self.held.items()},
            "counts": dict(self.counters.counts),
            "relay_stats": relay_stats[-1] if relay_stats else None,
        }
        self.samples.append(sample)
        self._write({"info": self.info, "samples": self.samples})
        total = self.config.minutes * 60
        n, r = node_now or {}, relay_now or {}
        fails = sum(self.counters.counts[f"{h}_fail"] for h in HONEST)
        oks = sum(self.counters.counts[f"{h}_ok"] for h in HONEST)
        attacks_n = sum(
            v for k, v in self.counters.counts.items() if not k.endswith(("_ok", "_fail", "_bytes"))
        )
        print(
            f"[{elapsed / 60:5.1f}/{total / 60:.0f} min] node {_fmt(n.get('rss_kib', 0) / 1024)} "
            f"MiB {n.get('fds', '-')} fds | relay {_fmt(r.get('rss_kib', 0) / 1024)} MiB "
            f"{r.get('fds', '-')} fds | ping p50 {_fmt(lat['ping']['p50_ms'])} p99 "
            f"{_fmt(lat['ping']['p99_ms'])} ms | rr p99 {_fmt(lat['rr']['p99_ms'])} ms | "
            f"honest ok {oks} fail {fails} | attack events {attacks_n}",
            flush=True,
        )

    def _write(self, data: dict[str, Any]) -> None:
        path = self.config.out / "soak.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)

    def _finish(
        self, statuses: dict[str, int], node: SoakProcess | None, relay: SoakProcess
    ) -> dict[str, Any]:
        counts = self.counters.counts
        per_kind = {
            h: {
                "ok": counts[f"{h}_ok"],
                "fail": counts[f"{h}_fail"],
                **_overall(self.series[h]),
            }
            for h in HONEST
        }
        oks = sum(v["ok"] for v in per_kind.values())
        fails = sum(v["fail"] for v in per_kind.values())
        alive = [s for s in self.samples if s["node"] and s["relay"]]
        warm = alive[len(alive) // 5 :] if alive else []
        summary = {
            "minutes": round((time.monotonic() - self.started) / 60, 2),
            "honest": per_kind,
            "honest_failure_ratio": fails / (oks + fails) if oks + fails else None,
            "held_by_target": {k: _overall(v) for k, v in self.held.items()},
            "attack_counts": {k: v for k, v in counts.items() if not k.endswith(("_ok", "_fail"))},
            "errors": dict(self.counters.notes.most_common()),
            "exit_status": statuses,
            "survived": all(s["node"] and s["relay"] for s in self.samples),
            "stopped_early": self.stopped_early,
        }
        for who in ("node", "relay"):
            if warm:
                first, last = warm[0][who], warm[-1][who]
                peak = max(s[who]["rss_kib"] for s in alive)
                summary[f"{who}_rss_kib"] = {"after_warmup": first["rss_kib"],
                                             "end": last["rss_kib"], "peak": peak}  # fmt: skip
                summary[f"{who}_fds"] = {"after_warmup": first["fds"], "end": last["fds"],
                                         "peak": max(s[who]["fds"] for s in alive)}  # fmt: skip
        result = {"info": self.info, "samples": self.samples, "summary": summary}
        self._write(result)
        return result


def _overall(series: Series) -> dict[str, Any]:
    return summary_ms(series.overall)


def _host_port(addr: Multiaddr) -> tuple[str, int]:
    parts = str(addr).split("/")
    return parts[2], int(parts[4])


def _jsonable(cfg: SoakConfig) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}
