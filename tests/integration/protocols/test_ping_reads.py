"""The ping server's read path: whole pings from one frame, split pings, partial ping at EOF."""

from __future__ import annotations

import os

import trio

from p2pstack.protocols.ping import PING_PROTOCOL, PING_SIZE, ping, ping_peer
from tests.helpers.nodes import node_pair


async def test_ping_split_over_frames_is_answered_whole() -> None:
    async with node_pair([ping()], [], connect=False) as (server, client):
        stream = await client.new_stream(server.addrs[0], PING_PROTOCOL)
        payload = os.urandom(PING_SIZE)
        for cut in (1, 16, 31):
            await stream.send_all(payload[:cut])  # one Yamux frame each
            await trio.sleep(0.01)  # let the server read the first part alone
            await stream.send_all(payload[cut:])
            assert await stream.receive_exactly(PING_SIZE) == payload
        await stream.aclose()


async def test_partial_ping_then_eof_ends_the_stream_unanswered() -> None:
    async with node_pair([ping()], [], connect=False) as (server, client):
        stream = await client.new_stream(server.addrs[0], PING_PROTOCOL)
        await stream.send_all(bytes(PING_SIZE + 5))
        await stream.send_eof()
        assert await stream.receive_exactly(PING_SIZE) == bytes(PING_SIZE)
        assert await stream.receive_some() == b""  # the 5 bytes got no answer; clean EOF
        await stream.aclose()


async def test_back_to_back_pings_over_one_stream() -> None:
    async with node_pair([ping()], []) as (server, client):
        rtts = await ping_peer(client, server.addrs[0], count=50)
        assert len(rtts) == 50
        assert all(rtt > 0 for rtt in rtts)
