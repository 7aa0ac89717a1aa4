"""NodeMetrics: two nodes in one process, each with its own registry, counting what happens."""

from __future__ import annotations

import pytest
import trio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from p2pstack.compose import open_node
from p2pstack.errors import DialError
from p2pstack.host.limits import ConnectionLimits
from p2pstack.host.metrics import NodeMetrics
from p2pstack.host.metrics_server import answer, parse_host_port, serve_metrics
from p2pstack.host.node import NodeConfig
from p2pstack.protocols.echo import ECHO_PROTOCOL, echo
from p2pstack.protocols.ping import PING_PROTOCOL, ping, ping_peer
from tests.helpers import wait_until

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_two_nodes_count_connections_streams_and_refusals() -> None:
    server_metrics, client_metrics = NodeMetrics(), NodeMetrics()
    assert server_metrics.registry is not client_metrics.registry
    limits = NodeConfig(limits=ConnectionLimits(max_inbound=1))
    async with (
        open_node(
            listen=[LOOPBACK], protocols=[ping()], services=[server_metrics], config=limits
        ) as server,
        open_node(protocols=[ping()], services=[client_metrics]) as client,
        open_node(protocols=[ping()]) as third,
    ):
        conn = await client.dial(server.addrs[0])
        await ping_peer(client, conn, count=2)
        with pytest.raises((DialError, trio.BrokenResourceError)):
            await ping_peer(third, server.addrs[0])
        out, inb = client_metrics.registry, server_metrics.registry
        refusals = "p2pstack_limit_refusals_total"
        await wait_until(
            lambda: sample(inb, refusals, scope="system", limit="connections.inbound") > 0
        )
        held = await conn.new_stream(PING_PROTOCOL)
        opened = "p2pstack_connections_opened_total"
        assert sample(out, opened, direction="outbound", transport="tcp") == 1
        assert sample(inb, opened, direction="inbound", transport="tcp") == 1
        assert sample(out, "p2pstack_dial_duration_seconds_count", transport="tcp") == 1
        assert sample(out, "p2pstack_dial_duration_seconds_sum", transport="tcp") > 0
        handshakes = "p2pstack_handshake_duration_seconds_count"
        assert sample(inb, handshakes, direction="inbound", transport="tcp") == 1
        streams = "p2pstack_streams_opened_total"
        assert sample(out, streams, protocol=PING_PROTOCOL, direction="outbound") >= 1
        open_streams = "p2pstack_streams_open"
        assert sample(out, open_streams, protocol=PING_PROTOCOL, direction="outbound") == 1
        assert sample(out, "p2pstack_connections_open", direction="outbound", transport="tcp") == 1
        await held.aclose()
        await conn.aclose()
        closed = {"direction": "outbound", "transport": "tcp", "reason": "SessionClosed"}
        await wait_until(lambda: sample(out, "p2pstack_connections_closed_total", **closed) == 1)
        assert sample(out, "p2pstack_connections_open", direction="outbound", transport="tcp") == 0
        # the exposition parses
        families = {f.name for f in text_string_to_metric_families(generate_latest(inb).decode())}
        assert {"p2pstack_connections_opened", "p2pstack_streams_open"} <= families


async def test_metrics_endpoint_serves_metrics_health_and_nothing_else() -> None:
    metrics = NodeMetrics()
    assert answer(metrics.registry, b"GET /nope HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 404")
    assert answer(metrics.registry, b"POST /metrics HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405")
    accept = b"Accept: application/openmetrics-text\r\n"
    om = answer(metrics.registry, b"GET /metrics HTTP/1.1\r\n" + accept + b"\r\n")
    assert b"application/openmetrics-text" in om
    assert om.endswith(b"# EOF\n")
    # A version prometheus-client cannot compare raised TypeError (found by the fuzz target):
    # only the format is taken from Accept, so the scraper gets OpenMetrics all the same.
    bad = b"Accept: application/openmetrics-text; version=1...0\r\n"
    text = answer(metrics.registry, b"GET /metrics HTTP/1.1\r\n" + bad + b"\r\n")
    assert text.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Type: application/openmetrics-text; version=1.0.0" in text
    assert text.endswith(b"# EOF\n")
    # ...and Accept parameters never reach the response (non-ASCII ones broke it).
    odd = b"Accept: application/openmetrics-text; escaping=\xe9\r\n"
    om2 = answer(metrics.registry, b"GET /metrics HTTP/1.1\r\n" + odd + b"\r\n")
    assert om2.startswith(b"HTTP/1.1 200 OK")
    assert b"\xe9" not in om2
    assert parse_host_port("[::1]:9100") == ("::1", 9100)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_host_port("9100")
    async with trio.open_nursery() as nursery:
        host, port = await nursery.start(serve_metrics, metrics.registry, "127.0.0.1", 0)
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            response = b""
            while chunk := await stream.receive_some():
                response += chunk
        assert response.startswith(b"HTTP/1.1 200 OK")
        assert response.endswith(b"\r\n\r\nok\n")
        nursery.cancel_scope.cancel()


async def test_bytes_by_protocol_are_counted_per_call_and_read_at_scrape_time() -> None:
    server_metrics, client_metrics = NodeMetrics(), NodeMetrics()
    off = NodeMetrics(traffic=False)
    async with (
        open_node(listen=[LOOPBACK], protocols=[echo()], services=[server_metrics]) as server,
        open_node(protocols=[echo()], services=[client_metrics]) as client,
        open_node(protocols=[echo()], services=[off]) as quiet,
    ):
        inb, out = server_metrics.registry, client_metrics.registry
        sent, received = "p2pstack_stream_bytes_sent_total", "p2pstack_stream_bytes_received_total"
        stream = await client.new_stream(server.addrs[0], ECHO_PROTOCOL)
        assert stream.meter is not None
        await stream.send_all(b"x" * 1000)
        assert await stream.receive_exactly(1000) == b"x" * 1000
        # an open stream is counted when scraped
        assert sample(out, sent, protocol=ECHO_PROTOCOL) == 1000
        assert sample(out, received, protocol=ECHO_PROTOCOL) == 1000
        await stream.send_all(b"y" * 500)
        await stream.send_eof()
        assert await stream.receive_until_eof(10_000) == b"y" * 500
        await stream.aclose()
        # ...and a closed one stays counted
        assert sample(out, sent, protocol=ECHO_PROTOCOL) == 1500
        assert sample(out, received, protocol=ECHO_PROTOCOL) == 1500
        await wait_until(lambda: sample(inb, received, protocol=ECHO_PROTOCOL) == 1500)
        await wait_until(lambda: sample(inb, sent, protocol=ECHO_PROTOCOL) == 1500)
        # a stream never closed is folded in once its connection closes
        assert client_metrics.traffic is not None
        left_open = await client.new_stream(server.addrs[0], ECHO_PROTOCOL)
        await left_open.send_all(b"z" * 10)
        assert await left_open.receive_exactly(10) == b"z" * 10
        await left_open.connection.aclose()
        assert sample(out, sent, protocol=ECHO_PROTOCOL) == 1510
        assert sample(out, received, protocol=ECHO_PROTOCOL) == 1510
        assert client_metrics.traffic.totals()[0][ECHO_PROTOCOL] == 1510
        # a node without traffic counting: no meter on its streams, the families are empty
        plain = await quiet.new_stream(server.addrs[0], ECHO_PROTOCOL)
        assert plain.meter is None
        await plain.aclose()
        assert sample(off.registry, sent, protocol=ECHO_PROTOCOL) == 0
