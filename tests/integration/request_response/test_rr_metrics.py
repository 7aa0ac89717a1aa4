"""Request-response metrics: two nodes on loopback TCP, the counters an operator scrapes move."""

from __future__ import annotations

from typing import Any

import pytest

from p2pstack.compose import open_node
from p2pstack.host.metrics import NodeMetrics
from p2pstack.protocols.request_response import (
    ApprovalRequest,
    Ask,
    Firewall,
    JsonCodec,
    NotPermitted,
    RequestContext,
    RequestDirection,
    RequestTimeout,
    Restricted,
    UnsupportedProtocols,
    request_response,
)
from p2pstack.protocols.request_response.metrics import (
    RequestResponseMetrics,
    register_request_response_metrics,
    rule_label,
)
from tests.helpers import wait_until

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
PROTOCOL = "/test/rr-metrics/1"
UNSERVED = "/test/rr-unserved/1"


async def answer(request: Any, context: RequestContext) -> Any:
    return {"echo": request}


async def small_only(question: ApprovalRequest) -> bool:
    return bool(question.request["n"] < 10)


def value(metrics: NodeMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


async def test_requests_failures_and_firewall_decisions_are_counted() -> None:
    firewall = Firewall.allow_all()
    firewall.set_default(Ask(), RequestDirection.INBOUND)
    firewall.approver = small_only
    server_rr = request_response(PROTOCOL, JsonCodec(), handler=answer, firewall=firewall)
    client_rr = request_response(PROTOCOL, JsonCodec(), serve=False)
    server_metrics, client_metrics = NodeMetrics(), NodeMetrics()
    register_request_response_metrics(server_metrics.registry, server_rr)
    collector = register_request_response_metrics(client_metrics.registry, client_rr.metrics)
    unserved = request_response(UNSERVED, JsonCodec(), serve=False)
    collector.add(unserved.metrics)
    async with (
        open_node(listen=[LOOPBACK], protocols=[server_rr], services=[server_metrics]) as server,
        open_node(protocols=[client_rr, unserved], services=[client_metrics]),
    ):
        target = server.addrs[0]
        assert await client_rr.request(target, {"n": 1}, timeout=5) == {"echo": {"n": 1}}
        with pytest.raises(NotPermitted):
            await client_rr.request(target, {"n": 50}, timeout=5)
        # a named Restricted rule refusing our own outbound request: counted by its name
        client_rr.firewall.set_peer_rule(
            server.peer_id, Restricted(lambda r: False, name="never"), RequestDirection.OUTBOUND
        )
        with pytest.raises(NotPermitted):
            await client_rr.request(server.peer_id, {"n": 2}, timeout=5)

        out, inb = client_metrics, server_metrics
        requests, failures = "p2pstack_rr_requests_total", "p2pstack_rr_failures_total"
        assert value(out, requests, protocol=PROTOCOL, direction="outbound") == 3
        kind = {"protocol": PROTOCOL, "direction": "outbound", "kind": "NotPermitted"}
        assert value(out, failures, **kind) == 2
        decisions = "p2pstack_rr_firewall_decisions_total"
        assert (
            value(
                out,
                decisions,
                protocol=PROTOCOL,
                direction="outbound",
                rule="allow",
                outcome="allow",
            )
            == 2
        )
        assert (
            value(
                out,
                decisions,
                protocol=PROTOCOL,
                direction="outbound",
                rule="restricted:never",
                outcome="deny",
            )
            == 1
        )
        await wait_until(lambda: value(inb, requests, protocol=PROTOCOL, direction="inbound") == 2)
        asked = {"protocol": PROTOCOL, "direction": "inbound", "rule": "ask"}
        await wait_until(lambda: value(inb, decisions, **asked, outcome="deny") == 1)
        assert value(inb, decisions, **asked, outcome="allow") == 1
        refused = {"protocol": PROTOCOL, "direction": "inbound", "kind": "NotPermitted"}
        await wait_until(lambda: value(inb, failures, **refused) == 1)
        # a failure of another kind, on a second service exposed through the same collector
        with pytest.raises(UnsupportedProtocols):
            await unserved.request(target, {"n": 3}, timeout=5)
        missing = {"protocol": UNSERVED, "direction": "outbound", "kind": "UnsupportedProtocols"}
        assert value(out, failures, **missing) == 1
        assert value(out, requests, protocol=UNSERVED, direction="outbound") == 1


def test_rule_labels_and_the_counters_without_a_node() -> None:
    assert rule_label(None) == "none"
    assert rule_label(Ask()) == "ask"
    assert rule_label(Ask(name="ops")) == "ask:ops"
    assert rule_label(Restricted(lambda r: True)) == "restricted"
    metrics = RequestResponseMetrics()
    metrics.request("/p", RequestDirection.INBOUND)
    metrics.failed("/p", RequestDirection.INBOUND, RequestTimeout("late"))
    assert metrics.snapshot() == {
        "requests": {"/p|inbound": 1},
        "failures": {"/p|inbound|RequestTimeout": 1},
        "decisions": {},
    }
