"""AutoNAT on loopback (``allow_private_addrs``): verdicts, the v2 dial-data cost, the
server's refusals and limits, nonce checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.host.config import NodeConfig
from p2pstack.host.limits import ConnectionLimits
from p2pstack.host.netstream import NetStream
from p2pstack.host.node import Node
from p2pstack.host.reachability import Reachability, ReachabilityChanged
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.protocols.nat.autonat import AutoNATConfig, autonat
from p2pstack.protocols.nat.autonat.client import DialBackReceiver, probe_v1, probe_v2
from p2pstack.protocols.nat.autonat.v1_messages import (
    PROTOCOL_V1,
    V1Status,
    decode_v1_response,
    encode_v1_dial,
)
from p2pstack.protocols.nat.autonat.v2_messages import (
    DIAL_BACK_PROTOCOL,
    DIAL_REQUEST_PROTOCOL,
    DialResponse,
    DialStatus,
    ResponseStatus,
    decode_v2,
    encode_dial_back,
    encode_v2,
)
from p2pstack.varint import encode_uvarint, length_prefixed
from tests.helpers import wait_until
from tests.helpers.autonat import SERVER, autonat_node, closed_port, reachability

LAB = AutoNATConfig(allow_private_addrs=True, min_confirmations=1, max_servers=2)


@asynccontextmanager
async def plain_client(
    listen: list[str] | None = None,
) -> AsyncIterator[tuple[Node, DialBackReceiver]]:
    """A node without the AutoNAT service (the tests send the requests), serving dial-back."""
    receiver = DialBackReceiver()
    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"] if listen is None else listen, protocols=[identify()]
    ) as node:
        node.set_stream_handler(DIAL_BACK_PROTOCOL, receiver.handle)
        yield node, receiver


async def test_a_dialable_address_is_public_and_a_closed_port_private() -> None:
    async with (
        autonat_node(SERVER) as (server, server_svc),
        autonat_node(LAB) as (client, service),
    ):
        await client.dial(server.addrs[0])
        status = await reachability(client, Reachability.PUBLIC)
        assert status.of(client.listen_addrs[0]) is Reachability.PUBLIC
        assert service.probes[-1].version == 2
        assert service.probes[-1].reachable
        assert server_svc.server is not None
        assert server_svc.server.stats == {"v2:ok": 1}

    async with (
        autonat_node(SERVER) as (server, _),
        autonat_node(LAB, listen=[]) as (client, service),
    ):
        closed = Multiaddr(f"/ip4/127.0.0.1/tcp/{closed_port()}")
        client.set_announced_addrs([closed])
        await client.dial(server.addrs[0])
        status = await reachability(client, Reachability.PRIVATE)
        assert status.of(closed) is Reachability.PRIVATE
        assert service.probes[-1].reason == "the server could not dial it"


async def test_two_servers_must_agree() -> None:
    config = AutoNATConfig(allow_private_addrs=True, min_confirmations=2, max_servers=2)
    async with (
        autonat_node(SERVER) as (one, _),
        autonat_node(SERVER) as (two, _),
        autonat_node(config) as (client, service),
    ):
        await client.dial(one.addrs[0])
        with trio.move_on_after(1):
            await reachability(client, Reachability.PUBLIC)
        assert client.reachability.overall is Reachability.UNKNOWN
        assert len(service.probes) == 1
        await client.dial(two.addrs[0])
        await reachability(client, Reachability.PUBLIC)
        assert {p.server for p in service.probes} == {one.peer_id, two.peer_id}


async def test_v2_asks_the_dial_data_cost_for_another_ip() -> None:
    # The client dials from 127.0.0.1 but asks about 127.0.0.2: the server wants 50 kB first.
    async with (
        autonat_node(SERVER) as (server, server_svc),
        autonat_node(LAB, listen=["/ip4/127.0.0.2/tcp/0"]) as (client, _),
    ):
        await client.dial(server.addrs[0])
        status = await reachability(client, Reachability.PUBLIC)
        assert status.public_addrs == tuple(client.listen_addrs)
        assert server_svc.server is not None
        assert server_svc.server.stats == {"v2:dial-data": 1, "v2:ok": 1}
        # A client unwilling to pay gets no verdict, and the server dials nothing.
        conn = await client.dial(server.addrs[0])
        stingy = AutoNATConfig(allow_private_addrs=True, max_dial_data=10_000)
        probe = await probe_v2(conn, client.listen_addrs[0], stingy, DialBackReceiver())
        assert probe.reachable is None
        assert "dial data refused" in probe.reason
        assert server_svc.server.stats["v2:dial-data"] == 2  # asked, never paid: no dial
        assert server_svc.server.stats["v2:ok"] == 1


async def test_v1_dials_only_the_requesters_ip() -> None:
    async with (
        autonat_node(SERVER) as (server, _),
        plain_client(["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.2/tcp/0"]) as (client, _),
    ):
        conn = await client.dial(server.addrs[0])
        same, other = client.listen_addrs
        ok = await probe_v1(conn, client, same, LAB)
        assert ok.reachable is True
        assert ok.version == 1
        refused = await probe_v1(conn, client, other, LAB)
        assert refused.reachable is None
        assert refused.reason.startswith("E_DIAL_REFUSED")


async def test_a_public_server_refuses_private_addresses() -> None:
    public = AutoNATConfig(client=False, server=True)
    async with (
        autonat_node(public) as (server, server_svc),
        plain_client() as (client, receiver),
    ):
        conn = await client.dial(server.addrs[0])
        addr = client.listen_addrs[0]
        v2 = await probe_v2(conn, addr, LAB, receiver)
        v1 = await probe_v1(conn, client, addr, LAB)
        assert (v2.reachable, v2.reason) == (None, "E_DIAL_REFUSED")
        assert v1.reachable is None
        assert v1.reason.startswith("E_DIAL_REFUSED")
        assert server_svc.server is not None
        assert server_svc.server.stats == {"v2:refused": 1, "v1:refused": 1}


async def test_rate_limits_reject_with_a_status() -> None:
    strict = AutoNATConfig(
        client=False, server=True, allow_private_addrs=True, max_requests_per_peer=2
    )
    async with (
        autonat_node(strict) as (server, server_svc),
        plain_client() as (client, receiver),
    ):
        conn = await client.dial(server.addrs[0])
        addr = client.listen_addrs[0]
        results = [await probe_v2(conn, addr, LAB, receiver) for _ in range(3)]
        assert [r.reachable for r in results] == [True, True, None]
        assert results[2].reason == "E_REQUEST_REJECTED"
        v1 = await probe_v1(conn, client, addr, LAB)
        assert v1.reachable is None
        assert "per-peer request rate" in v1.reason
        assert server_svc.server is not None
        assert server_svc.server.stats["v2:rejected"] == 1


async def test_a_flood_is_bounded_and_others_are_still_served() -> None:
    strict = AutoNATConfig(client=False, server=True, allow_private_addrs=True, max_requests=20)
    async with (
        autonat_node(strict) as (server, server_svc),
        plain_client() as (flooder, receiver),
    ):
        conn = await flooder.dial(server.addrs[0])
        results = []

        async def one() -> None:
            results.append(await probe_v2(conn, flooder.listen_addrs[0], LAB, receiver))

        async with trio.open_nursery() as nursery:
            for _ in range(40):
                nursery.start_soon(one)
        assert server_svc.server is not None
        assert server_svc.server.limiter.in_flight == 0
        served = [r for r in results if r.reachable is True]
        assert 1 <= len(served) <= 12  # per peer: 12 a minute, 8 in flight
        assert all(r.reason == "E_REQUEST_REJECTED" for r in results if r.reachable is None)


async def test_a_response_without_our_nonce_is_discarded() -> None:
    """A server claiming OK without dialling back, and one dialling back with a wrong
    nonce: neither answer counts."""

    async def liar(stream: NetStream) -> None:
        decode_v2(await stream.receive_length_prefixed(8192))
        answer = DialResponse(ResponseStatus.OK, 0, DialStatus.OK)
        await stream.send_all(length_prefixed(encode_v2(answer)))
        await stream.send_eof()

    async def wrong_nonce(stream: NetStream) -> None:
        decode_v2(await stream.receive_length_prefixed(8192))
        back = await node.dial(client.listen_addrs[0])
        s = await back.new_stream(DIAL_BACK_PROTOCOL)
        await s.send_all(length_prefixed(encode_dial_back(12345)))
        with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):  # reset
            await s.receive_some()
        answer = DialResponse(ResponseStatus.OK, 0, DialStatus.OK)
        await stream.send_all(length_prefixed(encode_v2(answer)))
        await stream.send_eof()

    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"]) as node,
        plain_client() as (client, receiver),
    ):
        conn = await client.dial(node.addrs[0])
        for handler in (liar, wrong_nonce):
            node.set_stream_handler(DIAL_REQUEST_PROTOCOL, handler)
            probe = await probe_v2(conn, client.listen_addrs[0], LAB, receiver)
            assert probe.reachable is None
            assert probe.reason == "dial back OK claimed, but our nonce never arrived"
        assert receiver.unknown_nonces == 1


async def test_identify_feeds_the_observed_address_manager() -> None:
    ident = identify()
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[identify()]) as server,
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[ident]) as client,
    ):
        conn = await client.dial(server.addrs[0])
        assert await ident.wait_identified(conn) is not None
        # Dialled from an ephemeral port: counted for our listen port on the observed IP.
        listen = client.listen_addrs[0]
        assert ident.observed.count(listen, trio.current_time()) == 1
        ident.observed.threshold = 1
        assert ident.observed.confirmed(trio.current_time()) == [listen]


async def test_a_confirmed_observed_address_is_tested_and_announced_beside_others() -> None:
    ident = identify()
    config = AutoNATConfig(allow_private_addrs=True, min_confirmations=1, max_servers=1)
    service = autonat(config)
    async with (
        autonat_node(SERVER) as (server, _),
        open_node(listen=["/ip4/0.0.0.0/tcp/0"], protocols=[ident], services=[service]) as client,
    ):
        local = client.listen_addrs[0]
        port = local.host_port()
        assert port is not None
        # Another service (UPnP, say) announces an address; it happens to be closed.
        mapped = Multiaddr(f"/ip4/127.0.0.3/tcp/{closed_port()}")
        client.set_announced_addrs([mapped])
        # Peers saw us as 127.0.0.2 (the wildcard listener accepts it there).
        observed = Multiaddr(f"/ip4/127.0.0.2/tcp/{port[1]}")
        ident.observed.threshold = 1
        ident.observed.record(
            observed=observed,
            observer=server.peer_id,
            observer_addr=Multiaddr("/ip4/198.51.100.1/tcp/1"),
            local_addr=local,
            listen_addrs=client.listen_addrs,
            now=trio.current_time(),
        )
        with client.events.subscribe() as events, trio.fail_after(10):
            await client.dial(server.addrs[0])
            async for event in events:
                if isinstance(event, ReachabilityChanged) and all(
                    event.status.of(a) is not Reachability.UNKNOWN for a in (observed, mapped)
                ):
                    break
        status = client.reachability
        assert status.of(observed) is Reachability.PUBLIC
        assert status.of(mapped) is Reachability.PRIVATE
        assert status.of(local) is Reachability.PUBLIC
        assert status.overall is Reachability.PUBLIC
        # Announced: the observed address confirmed public, and the other service's still.
        assert observed in client.announced_addrs
        assert mapped in client.announced_addrs
        # Several addresses asked of one server in turn: every request was answered.
        assert all(p.answered for p in service.probes)


async def test_garbage_and_lies_get_typed_refusals_and_the_server_keeps_serving() -> None:
    async with (
        autonat_node(SERVER) as (server, server_svc),
        plain_client() as (client, receiver),
    ):
        conn = await client.dial(server.addrs[0])
        # v1: bytes that are no message, and a DIAL for someone else's peer id.
        for request in (b"\x08\x07\xff\xff", encode_v1_dial(server.peer_id, client.listen_addrs)):
            stream = await conn.new_stream(PROTOCOL_V1)
            await stream.send_all(length_prefixed(request))
            answer = decode_v1_response(await stream.receive_length_prefixed(4096))
            assert answer.status is V1Status.E_BAD_REQUEST
            await stream.aclose()
        # v2: a length prefix of 1 MB is refused before anything is read (the stream is reset).
        stream = await conn.new_stream(DIAL_REQUEST_PROTOCOL)
        await stream.send_all(encode_uvarint(1 << 20) + bytes(100))
        with pytest.raises(trio.BrokenResourceError):
            await stream.receive_some()
        assert server_svc.server is not None
        assert server_svc.server.stats == {"bad-request": 3}
        ok = await probe_v2(conn, client.listen_addrs[0], LAB, receiver)
        assert ok.reachable is True


async def test_our_own_connection_limit_is_no_verdict_on_the_address() -> None:
    """A server whose per-peer connection limit forbids the dial-back rejects the request
    (v2) or refuses it (v1): it never reports the address as undialable."""
    one_per_peer = NodeConfig(limits=ConnectionLimits(max_per_peer=1))
    service = autonat(SERVER)
    async with (
        open_node(
            listen=["/ip4/127.0.0.1/tcp/0"],
            protocols=[identify()],
            services=[service],
            config=one_per_peer,
        ) as server,
        plain_client() as (client, receiver),
    ):
        conn = await client.dial(server.addrs[0])
        v2 = await probe_v2(conn, client.listen_addrs[0], LAB, receiver)
        assert (v2.reachable, v2.reason) == (None, "E_REQUEST_REJECTED")
        v1 = await probe_v1(conn, client, client.listen_addrs[0], LAB)
        assert (v1.reachable, v1.reason) == (None, "E_DIAL_REFUSED: our connection limits refused")
        assert service.server is not None
        assert service.server.stats == {"v2:own-limit": 1, "v1:own-limit": 1}


async def test_verdicts_are_rechecked_when_due() -> None:
    config = AutoNATConfig(
        allow_private_addrs=True, min_confirmations=1, max_servers=1, recheck_interval=0.3
    )
    async with (
        autonat_node(SERVER) as (server, server_svc),
        autonat_node(config) as (client, service),
    ):
        await client.dial(server.addrs[0])
        await reachability(client, Reachability.PUBLIC)
        await wait_until(lambda: len(service.probes) >= 3, seconds=5)
        assert client.reachability.overall is Reachability.PUBLIC
        assert server_svc.server is not None
        assert server_svc.server.stats["v2:ok"] >= 3
