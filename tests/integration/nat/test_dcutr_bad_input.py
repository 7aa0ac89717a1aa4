"""Hostile DCUtR input: each gets a typed refusal (a reset stream, a counted refusal, an
event with the reason) after bounded work, and the node keeps serving."""

from __future__ import annotations

import pytest
import trio

from p2pstack.host.connection import Connection
from p2pstack.host.netstream import NetStream
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat.dcutr import PROTOCOL_ID, DCUtRConfig, HolePunchFailed, dcutr
from p2pstack.protocols.nat.dcutr.messages import SYNC, connect, decode, encode
from p2pstack.protocols.ping import ping_peer
from p2pstack.varint import encode_uvarint, length_prefixed
from tests.helpers.dcutr_nodes import Bed, bed, first_event

ANSWERING = DCUtRConfig(allow_private_addrs=True, auto=False, dial_timeout=0.5)


async def relayed_stream(net: Bed) -> tuple[Connection, NetStream]:
    conn = await net.b.dial(net.circuit_to_a)
    assert conn.limited
    return conn, await net.b.new_stream(conn, PROTOCOL_ID, allow_limited=True)


async def reset_by_peer(stream: NetStream) -> bool:
    """Whether the peer ended the stream (reset or closed) without another message."""
    with trio.fail_after(5):
        try:
            return await stream.receive_some() == b""
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return True


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("sync first", length_prefixed(encode(SYNC))),
        ("oversized", encode_uvarint(5000) + bytes(64)),
        ("garbage", length_prefixed(b"\xff\xff\xff\xff")),
        ("unknown type", length_prefixed(b"\x08\x01")),
    ],
)
async def test_bad_first_message_is_refused(name: str, payload: bytes) -> None:
    service = dcutr(ANSWERING)
    async with bed(service, None) as net:
        with net.a.events.subscribe() as events:
            conn, stream = await relayed_stream(net)
            await stream.send_all(payload)
            assert await reset_by_peer(stream), name
            with trio.fail_after(5):
                failed = await first_event(events, (HolePunchFailed,))
        assert isinstance(failed, HolePunchFailed)
        assert failed.reason.startswith("refused"), failed
        assert service.stats["refused"] == 1
        assert (await ping_peer(net.b, conn, count=1))[0] >= 0  # the node still serves


async def test_repeated_connect_is_refused() -> None:
    service = dcutr(ANSWERING)
    async with bed(service, None) as net:
        _, stream = await relayed_stream(net)
        hello = length_prefixed(encode(connect([Multiaddr("/ip4/127.0.0.1/tcp/9")])))
        await stream.send_all(hello)
        answer = decode(await stream.receive_length_prefixed(4096))
        assert answer.addrs  # A's own addresses
        await stream.send_all(hello)  # CONNECT again instead of SYNC
        assert await reset_by_peer(stream)
        assert service.stats["refused"] == 1


async def test_hundreds_of_garbage_addresses_and_new_streams_cost_no_dial() -> None:
    service = dcutr(ANSWERING)
    async with bed(service, None) as net:
        _, stream = await relayed_stream(net)
        body = b"\x08\x64" + b"".join(b"\x12\x03\xff\xff\xff" for _ in range(700))
        assert len(body) < 4096
        started = trio.current_time()
        for _ in range(3):  # the spec's three rounds, none with an address to dial
            await stream.send_all(length_prefixed(body))
            await stream.receive_length_prefixed(4096)
            await stream.send_all(length_prefixed(encode(SYNC)))
        await stream.send_all(length_prefixed(body))  # a fourth round is not served
        assert await reset_by_peer(stream)
        assert trio.current_time() - started < 2  # nothing was dialled
        assert service.stats["answered"] == 1
        # A new stream at once does not buy three more rounds (go and js open one per round:
        # the rounds a peer was answered carry over for stream_timeout).
        try:  # the refusal (a reset) may come before or after our CONNECT goes out
            _, again = await relayed_stream(net)
            await again.send_all(length_prefixed(body))
            assert await reset_by_peer(again)
        except trio.BrokenResourceError:
            pass
        assert service.stats["answered"] == 1
        assert service.stats["refused"] == 1


async def test_dcutr_over_a_direct_connection_is_refused() -> None:
    service = dcutr(ANSWERING)
    async with bed(service, None) as net:
        direct = await net.b.dial(net.a.addrs[0])
        assert not direct.limited
        try:  # the reset may come while multistream still waits for the answer
            stream = await net.b.new_stream(direct, PROTOCOL_ID)
            await stream.send_all(length_prefixed(encode(connect([]))))
            assert await reset_by_peer(stream)
        except trio.BrokenResourceError:
            pass
        assert service.stats["refused"] == 1
        assert service.stats["answered"] == 0
