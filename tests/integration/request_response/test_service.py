"""Two nodes over the in-memory transport: requests, firewall in both directions, failures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import trio
import trio.testing

from p2pstack.host.events import StreamOpened
from p2pstack.identity import PeerId
from p2pstack.protocols.request_response import (
    AllowAll,
    ApprovalRequest,
    Ask,
    BytesCodec,
    ConnectionDropped,
    DataclassCodec,
    DialFailure,
    Firewall,
    InboundFailure,
    NotPermitted,
    OutboundFailure,
    RejectAll,
    RequestContext,
    RequestDirection,
    RequestTimeout,
    ResponseOmitted,
    Restricted,
    Rule,
    Rules,
    UnsupportedProtocols,
    request_response,
)
from tests.helpers.request_response import (
    PROTOCOL,
    client_rr,
    drain,
    failures,
    memory_pair,
    server_rr,
)


async def approve_small(question: ApprovalRequest) -> bool:
    return bool(question.request["n"] < 10)


def firewall_with(rule: Rule, direction: RequestDirection) -> Firewall:
    fw = Firewall.allow_all()
    fw.set_default(rule, direction)
    fw.approver = approve_small
    return fw


RULES: list[tuple[str, Rule, bool, bool]] = [
    # (id, rule, small request passes, big request passes)
    ("allow", AllowAll(), True, True),
    ("reject", RejectAll(), False, False),
    ("restricted", Restricted(lambda n: n < 10, projection=lambda r: r["n"]), True, False),
    ("ask", Ask(), True, False),
]


async def test_round_trip_by_address_and_by_peer_id() -> None:
    server, client = server_rr(), client_rr()
    async with memory_pair([server], [client]) as (a, _):
        assert await client.request(a.addrs[0], {"n": 1}) == {"echo": {"n": 1}}
        assert await client.request(str(a.addrs[0]), [1]) == {"echo": [1]}
        assert await client.request(a.peer_id, None, timeout=5) == {"echo": None}


@pytest.mark.parametrize(("name", "rule", "small", "big"), RULES, ids=[r[0] for r in RULES])
async def test_inbound_rules(name: str, rule: Rule, small: bool, big: bool) -> None:
    server = server_rr(firewall=firewall_with(rule, RequestDirection.INBOUND))
    client = client_rr()
    async with memory_pair([server], [client]) as (a, _):
        with a.events.subscribe() as events:
            for request, passes in (({"n": 1}, small), ({"n": 99}, big)):
                if passes:
                    assert await client.request(a.addrs[0], request) == {"echo": request}
                else:
                    with pytest.raises(NotPermitted, match="firewall refused"):
                        await client.request(a.addrs[0], request)
            seen = failures(drain(events))
        assert len(seen) == (not small) + (not big)
        assert all(isinstance(e, NotPermitted) for e in seen)


@pytest.mark.parametrize(("name", "rule", "small", "big"), RULES, ids=[r[0] for r in RULES])
async def test_outbound_rules(name: str, rule: Rule, small: bool, big: bool) -> None:
    server = server_rr()
    client = client_rr(firewall=firewall_with(rule, RequestDirection.OUTBOUND))
    async with memory_pair([server], [client]) as (a, b):
        await b.dial(a.addrs[0])
        with a.events.subscribe() as server_events, b.events.subscribe() as events:
            for request, passes in (({"n": 1}, small), ({"n": 99}, big)):
                if passes:
                    assert await client.request(a.peer_id, request) == {"echo": request}
                else:
                    with pytest.raises(NotPermitted, match="outbound request"):
                        await client.request(a.peer_id, request)
            opened = [e for e in drain(server_events) if isinstance(e, StreamOpened)]
            assert len(failures(drain(events), OutboundFailure)) == (not small) + (not big)
        assert len(opened) == small + big  # refused requests never reached the server


async def test_outbound_rule_applies_when_dialling_an_unknown_peer() -> None:
    server = server_rr()
    client = client_rr(firewall=Firewall(default=Rules(outbound=RejectAll())))
    async with memory_pair([server], [client]) as (a, _):
        addr_without_id = a.listen_addrs[0]
        with pytest.raises(NotPermitted):
            await client.request(addr_without_id, 1)


@pytest.mark.parametrize("direction", [RequestDirection.INBOUND, RequestDirection.OUTBOUND])
async def test_ask_timeout_rejects(
    direction: RequestDirection, autojump_clock: trio.testing.MockClock
) -> None:
    async def silent(question: ApprovalRequest) -> bool:
        await trio.sleep_forever()
        raise AssertionError

    fw = Firewall(default=Rules.both(AllowAll()), approver=silent, ask_timeout=4)
    fw.set_default(Ask(), direction)
    server = server_rr(firewall=fw if direction is RequestDirection.INBOUND else None)
    client = client_rr(firewall=fw if direction is RequestDirection.OUTBOUND else None)
    async with memory_pair([server], [client]) as (a, b):
        await b.dial(a.addrs[0])
        start = trio.current_time()
        with pytest.raises(NotPermitted):
            await client.request(a.peer_id, 1, timeout=60)
        assert 4 <= trio.current_time() - start < 5


async def test_rules_change_at_run_time() -> None:
    fw = Firewall.allow_all()
    server, client = server_rr(firewall=fw), client_rr()
    async with memory_pair([server], [client]) as (a, b):
        assert await client.request(a.addrs[0], 1) == {"echo": 1}
        fw.set_peer_rule(b.peer_id, RejectAll(), RequestDirection.INBOUND)
        with pytest.raises(NotPermitted):
            await client.request(a.peer_id, 2)
        fw.remove_peer_rule(b.peer_id)
        assert await client.request(a.peer_id, 3) == {"echo": 3}
        fw.set_default(Restricted(lambda r: r != 4))
        with pytest.raises(NotPermitted):
            await client.request(a.peer_id, 4)
        client.firewall.set_peer_rule(a.peer_id, RejectAll(), RequestDirection.OUTBOUND)
        with pytest.raises(NotPermitted):
            await client.request(a.peer_id, 5)


async def test_peer_without_rule_is_asked_about_before_its_first_request() -> None:
    asked: list[tuple[PeerId, RequestDirection]] = []

    async def provider(peer: PeerId, direction: RequestDirection) -> Rules | None:
        asked.append((peer, direction))
        return Rules(inbound=Restricted(lambda r: r == "ok"))

    fw = Firewall(rule_provider=provider)
    server, client = server_rr(firewall=fw), client_rr()
    async with memory_pair([server], [client]) as (a, b):
        assert await client.request(a.addrs[0], "ok") == {"echo": "ok"}
        with pytest.raises(NotPermitted):
            await client.request(a.peer_id, "nope")
        assert asked == [(b.peer_id, RequestDirection.INBOUND)]


async def test_several_protocols_each_with_its_codec() -> None:
    @dataclass
    class Query:
        key: str

    @dataclass
    class Answer:
        key: str
        value: int

    async def upper(request: bytes, context: RequestContext) -> bytes:
        return request.upper()

    async def lookup(request: Query, context: RequestContext) -> Answer:
        return Answer(request.key, len(request.key))

    codec = DataclassCodec(Query, Answer)
    raw = request_response("/test/bytes/1", BytesCodec(), handler=upper)
    typed = request_response("/test/typed/1", codec, handler=lookup)
    raw_client = request_response("/test/bytes/1", BytesCodec(), serve=False)
    typed_client = request_response("/test/typed/1", codec, serve=False)
    async with memory_pair([raw, typed, server_rr()], [raw_client, typed_client]) as (a, _):
        assert await raw_client.request(a.addrs[0], b"abc") == b"ABC"
        assert await typed_client.request(a.peer_id, Query("four")) == Answer("four", 4)


async def test_iterator_with_responder_objects() -> None:
    server = request_response(PROTOCOL, BytesCodec())
    client = request_response(PROTOCOL, BytesCodec(), serve=False)
    async with memory_pair([server], [client]) as (a, b), trio.open_nursery() as nursery:

        async def app() -> None:
            async for inbound in server.requests():
                assert inbound.peer == b.peer_id
                if inbound.request == b"drop":
                    inbound.drop()
                else:
                    await inbound.respond(inbound.request[::-1])
                    with pytest.raises(ResponseOmitted):
                        await inbound.respond(b"twice")

        nursery.start_soon(app)
        assert await client.request(a.addrs[0], b"abc") == b"cba"
        with pytest.raises(ResponseOmitted):
            await client.request(a.peer_id, b"drop")
        nursery.cancel_scope.cancel()


async def test_failing_handler_omits_the_response() -> None:
    async def broken(request: Any, context: RequestContext) -> Any:
        raise KeyError("no such thing")

    server, client = server_rr(handler=broken), client_rr()
    async with memory_pair([server], [client]) as (a, _):
        with a.events.subscribe() as events:
            with pytest.raises(ResponseOmitted):
                await client.request(a.addrs[0], 1)
            (error,) = failures(drain(events))
        assert "KeyError" in str(error)


async def test_unanswered_request_times_out(autojump_clock: trio.testing.MockClock) -> None:
    async def forever(request: Any, context: RequestContext) -> Any:
        await trio.sleep_forever()

    server, client = server_rr(handler=forever), client_rr()
    async with memory_pair([server], [client]) as (a, _):
        start = trio.current_time()
        with pytest.raises(RequestTimeout, match="within 3 s"):
            await client.request(a.addrs[0], 1, timeout=3)
        assert trio.current_time() - start == pytest.approx(3, abs=0.5)
        with a.events.subscribe() as events:
            with pytest.raises(ResponseOmitted):  # the server gives up first (10 s)
                await client.request(a.addrs[0], 1, timeout=60)
            assert any(isinstance(e, RequestTimeout) for e in failures(drain(events)))


async def test_unsupported_protocol_and_dial_failure() -> None:
    other = request_response("/test/other/1", BytesCodec(), serve=False)
    async with memory_pair([server_rr()], [other]) as (a, b):
        with b.events.subscribe() as events:
            with pytest.raises(UnsupportedProtocols):
                await other.request(a.addrs[0], b"x")
            with pytest.raises(DialFailure):
                await other.request("/memory/999999", b"x")
            assert len(failures(drain(events), OutboundFailure)) == 2


async def test_connection_closed_mid_request() -> None:
    async def hang_up(request: Any, context: RequestContext) -> Any:
        await node.hang_up(context.peer)
        await trio.sleep_forever()

    server, client = server_rr(handler=hang_up), client_rr()
    async with memory_pair([server], [client]) as (a, _):
        node = a
        with pytest.raises(ConnectionDropped):
            await client.request(a.addrs[0], 1)


def test_inbound_failure_event_names_peer_protocol_and_error() -> None:
    error = NotPermitted("no")
    peer = PeerId.from_string("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
    event = InboundFailure(peer, PROTOCOL, error)
    assert (event.peer_id, event.protocol, event.error) == (peer, PROTOCOL, error)
