"""Network namespaces for NAT tests: a "WAN" bridge, NAT routers running miniupnpd, LAN hosts.

Names carry a per-run prefix; everything (processes first, then namespaces) is removed by
:meth:`NetBed.close`, which fixtures call in finalizers. The WAN uses 1.2.3.0/24, which exists
only inside these namespaces (miniupnpd refuses reserved external addresses); nothing is
linked to the root namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.debian import ensure_packages

SCRIPT = Path(sys.executable).with_name("p2pstack")

NFT_RULES = """
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
    iifname "lan0" oifname "lan0" accept
    jump miniupnpd
  }
  chain miniupnpd { }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "wan0" masquerade
  }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
"""

MINIUPNPD_CONF = """ext_ifname=wan0
listening_ip=lan0
http_port=5000
enable_upnp=yes
enable_natpmp=no
ipv6_disable=yes
secure_mode=yes
system_uptime=no
notify_interval=60
uuid={uuid}
allow 1024-65535 {lan} 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
"""


def start_miniupnpd(ns: str, lan_prefix: str, workdir: Path) -> subprocess.Popen[bytes]:
    """Run miniupnpd in router namespace ``ns`` (WAN ``wan0``, LAN ``lan0``, rules as in
    :data:`NFT_RULES`), serving ``<lan_prefix>.0/24`` on port 5000; config, pid file and log
    go in ``workdir``. Returns once it listens (the caller stops the process)."""
    conf = workdir / f"{ns}-miniupnpd.conf"
    uuid = f"3d3cec3a-8cf0-11e0-98ee-{secrets.token_hex(6)}"
    conf.write_text(MINIUPNPD_CONF.format(uuid=uuid, lan=f"{lan_prefix}.0/24"))
    log_path = workdir / f"{ns}-miniupnpd.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "miniupnpd", "-d", "-f", str(conf),
             "-P", str(workdir / f"{ns}-miniupnpd.pid")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 10
    while (
        ":5000 "
        not in subprocess.run(
            ["ip", "netns", "exec", ns, "ss", "-ltnH"], capture_output=True, text=True, check=False
        ).stdout
    ):
        assert proc.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "miniupnpd did not listen"
        time.sleep(0.05)
    return proc


@dataclass
class Router:
    ns: str
    wan_ip: str
    lan_ip: str
    lan_prefix: str
    hosts: dict[str, str] = field(default_factory=dict)
    miniupnpd: subprocess.Popen[bytes] | None = None

    @property
    def root_url(self) -> str:
        return f"http://{self.lan_ip}:5000/rootDesc.xml"


class NodeProc:
    """A ``p2pstack`` process in a namespace, with its JSON lines collected."""

    def __init__(self, bed: NetBed, ns: str, args: list[str], name: str) -> None:
        self.name = name
        self.out = bed.dir / f"{name}.out"
        self.err = bed.dir / f"{name}.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, str(SCRIPT), *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.out.read_text(errors="replace").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
        return out

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")[-6000:]

    def wait_line(self, pred: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines():
                if pred(line):
                    return line
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}: {self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no matching line in {timeout} s: "
                                     f"{self.lines()} {self.stderr()}")  # fmt: skip
            time.sleep(0.05)

    def wait_exit(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"{self.name} still running: {self.stderr()}") from exc

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


class NetBed:
    def __init__(self) -> None:
        ensure_packages()
        assert os.geteuid() == 0, "network namespace tests need root"
        self.prefix = f"p2x{os.getpid() % 10000}{secrets.token_hex(2)}"
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.nodes: list[NodeProc] = []
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.wan = self.ns("wan")
        self.sh(self.wan, "ip", "link", "add", "br0", "type", "bridge")
        self.sh(self.wan, "ip", "addr", "add", "1.2.3.100/24", "dev", "br0")
        self.sh(self.wan, "ip", "link", "set", "br0", "up")
        self.wan_ip = "1.2.3.100"

    def ns(self, name: str) -> str:
        full = f"{self.prefix}-{name}"
        subprocess.run(["ip", "netns", "del", full], capture_output=True, check=False)
        self.sh(None, "ip", "netns", "add", full)
        self.namespaces.append(full)
        self.sh(full, "ip", "link", "set", "lo", "up")
        return full

    def sh(self, ns: str | None, *cmd: str, stdin: str | None = None) -> str:
        full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
        done = subprocess.run(full, input=stdin, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(full)}: {done.stderr}")
        return done.stdout

    def router(
        self, name: str, wan_ip: str, lan_prefix: str, *, upnp: bool = True, wan_cidr: int = 24
    ) -> Router:
        ns = self.ns(name)
        self.sh(None, "ip", "-n", ns, "link", "add", "wan0", "type", "veth", "peer", "name",
                f"v{name}", "netns", self.wan)  # fmt: skip
        self.sh(self.wan, "ip", "link", "set", f"v{name}", "master", "br0", "up")
        self.sh(ns, "ip", "addr", "add", f"{wan_ip}/{wan_cidr}", "dev", "wan0")
        self.sh(ns, "ip", "link", "set", "wan0", "up")
        lan_ip = f"{lan_prefix}.1"
        self.sh(ns, "ip", "link", "add", "lan0", "type", "bridge")
        self.sh(ns, "ip", "addr", "add", f"{lan_ip}/24", "dev", "lan0")
        self.sh(ns, "ip", "link", "set", "lan0", "up")
        self.sh(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.sh(ns, "nft", "-f", "-", stdin=NFT_RULES)
        router = Router(ns, wan_ip, lan_ip, lan_prefix)
        if upnp:
            self.start_miniupnpd(router)
        return router

    def start_miniupnpd(self, router: Router) -> None:
        proc = start_miniupnpd(router.ns, router.lan_prefix, self.dir)
        self.procs.append(proc)
        router.miniupnpd = proc

    def host(self, router: Router, name: str, index: int) -> tuple[str, str]:
        ns = self.ns(name)
        ip = f"{router.lan_prefix}.{index}"
        self.sh(None, "ip", "-n", router.ns, "link", "add", f"h{name}", "type", "veth", "peer",
                "name", "eth0", "netns", ns)  # fmt: skip
        self.sh(router.ns, "ip", "link", "set", f"h{name}", "master", "lan0", "up")
        self.sh(ns, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        self.sh(ns, "ip", "link", "set", "eth0", "up")
        self.sh(ns, "ip", "route", "add", "default", "via", router.lan_ip)
        router.hosts[ns] = ip
        return ns, ip

    def node(self, ns: str, args: list[str], name: str) -> NodeProc:
        proc = NodeProc(self, ns, args, name)
        self.nodes.append(proc)
        return proc

    def mappings(self, router: Router) -> str:
        return self.sh(router.ns, "nft", "list", "chain", "inet", "filter", "prerouting_miniupnpd")

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
