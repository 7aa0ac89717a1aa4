"""UPnP gateway registration against real miniupnpd + nftables NAT in network namespaces.

Nodes run as ``p2pstack node --upnp`` processes inside the LAN namespace (``ip netns exec``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from p2pstack import open_node
from p2pstack.errors import InvalidConfigError
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.protocols.nat import PrivateExternalAddress, UpnpConfig, check_external_ip
from tests.helpers.netbed import SCRIPT, NetBed


def upnp_line(line: dict[str, Any]) -> bool:
    return line.get("event") == "upnp"


def mapped(line: dict[str, Any]) -> bool:
    return upnp_line(line) and bool(line["mappings"])


def scrape(netbed: NetBed, ns: str, addr: str) -> dict[tuple[str, str], float]:
    """The node's /metrics, fetched inside its namespace: (name, sorted labels) -> value."""
    fetch = f"import urllib.request as u; print(u.urlopen('http://{addr}/metrics').read().decode())"
    text = netbed.sh(ns, sys.executable, "-c", fetch)
    return {
        (s.name, ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_map_reach_renew_ip_change_and_unmap(netbed: NetBed) -> None:
    rtr = netbed.router("ra", "1.2.3.4", "10.77.0")
    lan, lan_ip = netbed.host(rtr, "a1", 2)
    node = netbed.node(
        lan,
        ["node", "--listen", "/ip4/0.0.0.0/tcp/4001", "--upnp", "--upnp-root-url", rtr.root_url,
         "--upnp-lease", "4", "--metrics-addr", "127.0.0.1:0"],
        "a1",
    )  # fmt: skip
    event = node.wait_line(mapped)
    assert event["external_ip"] == "1.2.3.4"
    assert event["lan_ip"] == lan_ip
    assert event["mappings"] == [{"external_port": 4001, "internal": f"{lan_ip}:4001"}]
    peer_id = node.wait_line(lambda ln: "peer_id" in ln)["peer_id"]
    assert "dport 4001" in netbed.mappings(rtr)

    # from the WAN, through the NAT, to the node in the LAN
    done = netbed.sh(netbed.wan, str(SCRIPT), "ping", f"/ip4/1.2.3.4/tcp/4001/p2p/{peer_id}",
                     "--count", "1", "--json")  # fmt: skip
    assert json.loads(done.splitlines()[-1])["peer_id"] == peer_id

    # the lease (4 s) is renewed: the mapping outlives it
    time.sleep(5)
    assert "dport 4001" in netbed.mappings(rtr)
    metrics_addr = node.wait_line(lambda ln: "metrics_addr" in ln)["metrics_addr"]
    samples = scrape(netbed, lan, metrics_addr)
    assert samples["p2pstack_upnp_mapped", "port=4001,protocol=TCP"] == 1
    assert samples["p2pstack_upnp_renewals_total", ""] >= 2  # the first mapping and a renewal
    assert samples["p2pstack_upnp_failures_total", "kind=NoGatewayFound"] == 0

    # the gateway's external address changes: detected at the next renewal and republished
    netbed.sh(
        rtr.ns, "sh", "-c", "ip addr del 1.2.3.4/24 dev wan0 && ip addr add 1.2.3.9/24 dev wan0"
    )
    event = node.wait_line(lambda ln: mapped(ln) and ln["external_ip"] == "1.2.3.9", timeout=15)
    assert event["mappings"][0]["external_port"] == 4001

    # shutdown removes the mapping
    assert node.stop() == 0
    assert "dport 4001" not in netbed.mappings(rtr)


def test_port_conflict_ssdp_discovery_and_announced_addr(netbed: NetBed) -> None:
    rtr = netbed.router("ra", "1.2.3.4", "10.77.0")
    h1, _ = netbed.host(rtr, "a1", 2)
    h2, _ = netbed.host(rtr, "a2", 3)
    first = netbed.node(h1, ["node", "--listen", "/ip4/0.0.0.0/tcp/4001", "--upnp"], "a1")
    assert first.wait_line(mapped)["mappings"][0]["external_port"] == 4001  # real SSDP search
    second = netbed.node(
        h2, ["node", "--listen", "/ip4/0.0.0.0/tcp/4001", "--upnp", "--upnp-root-url",
             rtr.root_url], "a2",
    )  # fmt: skip
    ext_port = second.wait_line(mapped)["mappings"][0]["external_port"]
    assert ext_port != 4001  # taken by a1: another external port was chosen
    peer_id = second.wait_line(lambda ln: "peer_id" in ln)["peer_id"]
    done = netbed.sh(netbed.wan, str(SCRIPT), "ping", f"/ip4/1.2.3.4/tcp/{ext_port}/p2p/{peer_id}",
                     "--count", "1", "--json")  # fmt: skip
    assert json.loads(done.splitlines()[-1])["peer_id"] == peer_id


def test_no_gateway_refusal_and_double_nat(netbed: NetBed) -> None:
    rtr = netbed.router("ra", "1.2.3.4", "10.77.0")
    lan, _ = netbed.host(rtr, "a1", 2)
    # no gateway: nothing answers at this root URL
    nowhere = "http://10.77.0.99:5000/rootDesc.xml"
    nogw = netbed.node(lan, ["node", "--listen", "/ip4/0.0.0.0/tcp/4002", "--upnp",
                             "--upnp-root-url", nowhere, "--metrics-addr", "127.0.0.1:0"],
                       "nogw")  # fmt: skip
    assert "NoGatewayFound" in nogw.wait_line(lambda ln: upnp_line(ln) and ln["error"])["error"]
    metrics_addr = nogw.wait_line(lambda ln: "metrics_addr" in ln)["metrics_addr"]
    samples = scrape(netbed, lan, metrics_addr)
    assert samples["p2pstack_upnp_failures_total", "kind=NoGatewayFound"] >= 1
    assert samples["p2pstack_upnp_renewals_total", ""] == 0
    assert not [key for key in samples if key[0] == "p2pstack_upnp_mapped"]
    # a refusing gateway: miniupnpd's secure mode and ACL forbid ports below 1024
    refused = netbed.node(lan, ["node", "--listen", "/ip4/0.0.0.0/tcp/900", "--upnp",
                                "--upnp-root-url", rtr.root_url], "refused")  # fmt: skip
    error = refused.wait_line(lambda ln: upnp_line(ln) and ln["error"])["error"]
    assert "GatewayRefused" in error
    assert "not authorized" in error
    # double NAT: this gateway's own WAN side is a private (CGNAT) address
    inner = netbed.router("rb", "100.64.0.4", "10.88.0")
    lan_b, _ = netbed.host(inner, "b1", 2)
    dnat = netbed.node(lan_b, ["node", "--listen", "/ip4/0.0.0.0/tcp/4001", "--upnp",
                               "--upnp-root-url", inner.root_url], "dnat")  # fmt: skip
    error = dnat.wait_line(lambda ln: upnp_line(ln) and ln["error"])["error"]
    assert "PrivateExternalAddress" in error
    for proc in (nogw, refused, dnat):
        assert proc.stop() == 0


def test_external_ip_validation_and_config() -> None:
    assert check_external_ip("1.2.3.4", False) == "1.2.3.4"
    for bad in ("", "10.0.0.1", "100.64.1.1", "192.168.0.1", "junk"):
        with pytest.raises(PrivateExternalAddress):
            check_external_ip(bad, False)
    assert check_external_ip("10.0.0.1", True) == "10.0.0.1"
    with pytest.raises(InvalidConfigError):
        UpnpConfig(lease=0)
    with pytest.raises(InvalidConfigError):
        UpnpConfig(root_url="ftp://x")


async def test_identify_announces_extra_addrs() -> None:
    extra = Multiaddr("/ip4/1.2.3.4/tcp/4001")
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[identify()]) as server,
        open_node(protocols=[identify()]) as client,
    ):
        server.set_announced_addrs([extra])
        assert extra in server.announced_addrs
        conn = await client.dial(server.addrs[0])
        with trio.fail_after(10):
            while extra not in client.peerstore.addrs(conn.peer_id):  # noqa: ASYNC110 - polls another node's address book
                await trio.sleep(0.01)
