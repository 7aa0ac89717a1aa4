"""Two private LANs, each behind its own nftables NAT, and a public bridge with a relay host.

Built from /work/shared/testbeds/two_nat_netns.sh (the recipe), in namespaces named with the
PID and random bytes::

    <p>net: bridge br0 ("the internet", 5.5.5.0/24)
      <p>relay eth0 5.5.5.10      <p>r1 wan0 5.5.5.1 (NAT 1)     <p>r2 wan0 5.5.5.2 (NAT 2)
      <p>an1 eth0 21.0.0.1        <p>r1 lan0 10.1.0.1            <p>r2 lan0 10.2.0.1
      <p>anN eth0 (20+N).0.0.1    <p>a eth0 10.1.0.2             <p>b eth0 10.2.0.2

``autonat=N`` adds N public hosts for AutoNAT servers, each in its own /8 as the recipe puts
them (js-libp2p counts one vote per first octet of a server's address); public hosts reach
each other over the one bridge with on-link default routes. ``upnp=True`` runs miniupnpd on
NAT 1 (``r1``, LAN side ``10.1.0.1:5000``) with the rules it manages (``netbed``'s, ``pp``
masquerade) plus the same drop of unsolicited packets to the router itself.

Every veth is created inside the namespaces (nothing in the root namespace, no route to the
machine's interfaces); the public side has no route to 10.x, so only the NATs connect the
LANs to it. NAT modes: ``pp`` (``masquerade``: the source port is kept when free, so one
local port maps to one public port for every destination: endpoint-independent mapping in
practice) and ``random`` (``masquerade random``: a different public port per flow, a
"symmetric" NAT that defeats hole punching). Both routers drop unsolicited packets from the
WAN (no RST), as home routers do. Teardown kills what runs inside and deletes every namespace.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.debian import ensure_packages
from tests.helpers.netbed import NFT_RULES, start_miniupnpd

RELAY_IP = "5.5.5.10"
R1_WAN, R2_WAN = "5.5.5.1", "5.5.5.2"
A_IP, B_IP = "10.1.0.2", "10.2.0.2"
NAT_MODES = {"pp": "masquerade", "random": "masquerade random"}


def autonat_ip(index: int) -> str:
    """The address of AutoNAT server host ``an<index>`` (1-based): ``(20+index).0.0.1``."""
    return f"{20 + index}.0.0.1"


@dataclass(frozen=True)
class TwoNat:
    """The namespaces of one bed."""

    prefix: str
    nat1: str
    nat2: str
    autonat: int = 0
    upnp: bool = False

    @property
    def upnp_root_url(self) -> str:
        """NAT 1's UPnP root description (with ``upnp=True``)."""
        return "http://10.1.0.1:5000/rootDesc.xml"

    def ns(self, name: str) -> str:
        """``net``, ``relay``, ``r1``, ``r2``, ``a``, ``b`` or ``an1``... -> its namespace."""
        return f"{self.prefix}{name}"

    @property
    def namespaces(self) -> list[str]:
        servers = [f"an{i}" for i in range(1, self.autonat + 1)]
        return [self.ns(n) for n in ("a", "b", "r1", "r2", "relay", *servers, "net")]

    @property
    def autonat_ips(self) -> list[str]:
        """The AutoNAT server hosts' addresses (``an1`` first)."""
        return [autonat_ip(i) for i in range(1, self.autonat + 1)]

    def conntrack(self, router: str) -> str:
        """The TCP conntrack table of ``r1`` or ``r2`` (for failure messages)."""
        return _run(["ip", "netns", "exec", self.ns(router), "cat", "/proc/net/nf_conntrack"],
                    check=False).stdout  # fmt: skip


def _run(
    argv: list[str], *, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=30, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done


def _ip(*args: str, check: bool = True) -> None:
    _run(["ip", *args], check=check)


def _router_rules(mode: str) -> str:
    return f"""table inet p2pfilter {{
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname "wan0" ct state established,related accept
    iifname "wan0" drop
  }}
  chain forward {{
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
  }}
}}
table ip p2pnat {{
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan0" {NAT_MODES[mode]}
  }}
}}
"""


DROP_UNSOLICITED = """table inet p2pinput {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "wan0" ct state established,related accept
    iifname "wan0" drop
  }
}
"""


def _delete(ns: str) -> None:
    pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _ip("netns", "del", ns, check=False)


@contextlib.contextmanager
def two_nat(
    nat1: str = "pp", nat2: str = "pp", *, autonat: int = 0, upnp: bool = False
) -> Iterator[TwoNat]:
    """The bed with NAT modes ``nat1`` (in front of a) and ``nat2`` (in front of b),
    ``autonat`` public hosts ``an1``... for AutoNAT servers, and miniupnpd on NAT 1 when
    ``upnp`` (which needs ``nat1="pp"``)."""
    if nat1 not in NAT_MODES or nat2 not in NAT_MODES:
        raise ValueError(f"NAT modes are {sorted(NAT_MODES)}")
    if not 0 <= autonat <= 8:
        raise ValueError("autonat must be 0 to 8")
    if upnp and nat1 != "pp":
        raise ValueError("the UPnP router's rules masquerade in pp mode")
    if upnp:
        ensure_packages()
    bed = TwoNat(f"p2ph{os.getpid() % 100000}{secrets.token_hex(2)}", nat1, nat2, autonat, upnp)
    workdir = Path(tempfile.mkdtemp(prefix=f"{bed.prefix}-"))
    miniupnpd: subprocess.Popen[bytes] | None = None
    try:
        for ns in bed.namespaces:
            _ip("netns", "del", ns, check=False)  # a stale /run/netns file
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                  "net.ipv6.conf.default.disable_ipv6=1"])  # fmt: skip
        net = bed.ns("net")
        _ip("-n", net, "link", "add", "br0", "type", "bridge")
        _ip("-n", net, "link", "set", "br0", "up")

        def to_bridge(ns: str, ifname: str, port: str, addr: str) -> None:
            _ip("-n", ns, "link", "add", ifname, "type", "veth", "peer", "name", port, "netns", net)
            _ip("-n", net, "link", "set", port, "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", ifname)
            _ip("-n", ns, "link", "set", ifname, "up")
            _ip("-n", ns, "route", "add", "default", "dev", ifname)

        to_bridge(bed.ns("relay"), "eth0", "relay", RELAY_IP)
        for index, ip in enumerate(bed.autonat_ips, 1):
            to_bridge(bed.ns(f"an{index}"), "eth0", f"an{index}", ip)
        for r, wan, lan, host, host_ip, mode in (
            ("r1", R1_WAN, "10.1.0.1", "a", A_IP, nat1),
            ("r2", R2_WAN, "10.2.0.1", "b", B_IP, nat2),
        ):
            router, lan_host = bed.ns(r), bed.ns(host)
            to_bridge(router, "wan0", r, wan)
            _ip("-n", router, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0",
                "netns", lan_host)  # fmt: skip
            _ip("-n", router, "addr", "add", f"{lan}/24", "dev", "lan0")
            _ip("-n", router, "link", "set", "lan0", "up")
            _ip("-n", lan_host, "addr", "add", f"{host_ip}/24", "dev", "eth0")
            _ip("-n", lan_host, "link", "set", "eth0", "up")
            _ip("-n", lan_host, "route", "add", "default", "via", lan)
            _run(["ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            rules = NFT_RULES + DROP_UNSOLICITED if upnp and r == "r1" else _router_rules(mode)
            _run(["ip", "netns", "exec", router, "nft", "-f", "-"], stdin=rules)
        if upnp:
            miniupnpd = start_miniupnpd(bed.ns("r1"), "10.1.0", workdir)
        yield bed
    finally:
        if miniupnpd is not None:
            miniupnpd.terminate()
            try:
                miniupnpd.wait(5)
            except subprocess.TimeoutExpired:
                miniupnpd.kill()
                miniupnpd.wait()
        for ns in bed.namespaces:
            _delete(ns)
        shutil.rmtree(workdir, ignore_errors=True)
