"""Connection-level floods (issue 12, attacks 3 and 5, request-response and relay floods):
the victim must keep serving an honest peer, within its memory budget, and recover."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from p2pstack.host.connection import Connection
from p2pstack.muxers.yamux.frames import Flag, FrameType
from p2pstack.protocols.echo import ECHO_PROTOCOL
from p2pstack.protocols.identify import IDENTIFY_PUSH_PROTOCOL
from p2pstack.protocols.relay import reserve
from p2pstack.varint import encode_uvarint

from .peers import PEER_ERRORS, PeerFlood, flood_with_peers
from .raw import PARTIAL_HEADER, HeldConnections, hold_connections
from .rawyamux import (
    STREAM_WINDOW,
    RawYamux,
    flood_raw_clients,
    frame,
    negotiation_overhead,
    open_stream_frame,
)
from .scenario import assert_survived, run_attack
from .sources import ATTACKER_SOURCE, subnet_source
from .victim import running_victim

pytestmark = pytest.mark.attack

HELD_CONNECTIONS = 2000
"""The issue's size: 2,000 connections held open and reopened as soon as dropped."""
HELD_SETUP = 3.0
"""Seconds the held-connection attacker gets to open its sockets before probing starts."""
UPGRADED_PEERS = 300
"""The issue's size: 300 upgraded connections from fresh peer ids (> 256 inbound slots)."""
RR_PROTOCOL = "/x/1"
RR_CONNECTIONS = 32
RR_STREAMS = 48
RR_UNREAD_STREAMS = 32
RR_REQUEST_CHARS = 200_000
STREAM_CHUNK = 64 * 1024
"""Per connection (more than the 32 in progress a peer may have): partial requests
announcing 1 MiB and sending a window's worth of it."""
TCP_LISTEN = "/ip4/127.0.0.1/tcp/0"
WS_LISTEN = "/ip4/127.0.0.1/tcp/0/ws"
RESERVING_PEERS = 200
"""Fresh peer ids from 127.0.0.1 asking the relay for reservations."""


@pytest.mark.parametrize(
    ("first_bytes", "spread", "ws"),
    [(b"", False, False), (PARTIAL_HEADER, False, False), (b"", True, False), (b"", False, True)],
    ids=["silent", "partial-header", "silent-from-a-subnet", "silent-on-websocket"],
)
async def test_held_connection_flood(
    tmp_path: Path, first_bytes: bytes, spread: bool, ws: bool
) -> None:
    """2,000 connections that send nothing (or 17 bytes of the multistream header), from
    one address (or spread over the 2,000 addresses of 127.0.0.0/16's first 8 /24s), to the
    TCP listener (or to the WebSocket listener of a node listening on both; the honest peer
    still pings over TCP)."""
    listen = (TCP_LISTEN, WS_LISTEN) if ws else (TCP_LISTEN,)
    async with running_victim(tmp_path, listen=listen) as victim:
        host, port = victim.host_port(ws=ws)
        stats = HeldConnections()

        async def attack(established: trio.Event) -> None:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    lambda: hold_connections(
                        host,
                        port,
                        count=HELD_CONNECTIONS,
                        first_bytes=first_bytes,
                        stats=stats,
                        source=subnet_source if spread else lambda index: ATTACKER_SOURCE,
                    )
                )
                await stats.established.wait()
                established.set()

        name = "held-" + ("partial" if first_bytes else "silent")
        name += "-subnet" if spread else "-ws" if ws else ""
        report = await run_attack(victim, name, attack, setup_timeout=HELD_SETUP)
        report.notes.update(
            opened=stats.opened, dropped=stats.dropped_by_victim, failed=stats.connect_failures
        )
        assert_survived(victim, report)


@pytest.mark.parametrize("come_back", [False, True], ids=["hold", "come-back"])
async def test_idle_upgraded_connection_flood(tmp_path: Path, come_back: bool) -> None:
    """300 fresh peer ids, each upgraded and holding an echo and an identify-push stream it
    never uses: more than the 256 inbound slots. With ``come-back``, every peer the victim
    evicts or refuses returns at once as a new identity."""
    async with running_victim(tmp_path) as victim:
        target = victim.addr()
        stats = PeerFlood()

        async def occupy(conn: Connection) -> None:
            echo = await conn.new_stream(ECHO_PROTOCOL)
            await echo.send_all(b"x")
            await conn.new_stream(IDENTIFY_PUSH_PROTOCOL)

        async def attack(established: trio.Event) -> None:
            await flood_with_peers(
                target, UPGRADED_PEERS, occupy, stats, established, come_back=come_back
            )

        name = "idle-upgraded" + ("-come-back" if come_back else "")
        report = await run_attack(victim, name, attack, setup_timeout=60)
        report.notes.update(
            connected=stats.connected,
            occupied=stats.occupied,
            evicted=stats.evicted,
            errors=stats.errors,
        )
        assert_survived(victim, report)


async def test_request_response_partial_request_flood(tmp_path: Path) -> None:
    """32 peers x 48 request-response streams, each announcing a 1 MiB request and sending
    a window's worth of it, never finishing."""
    async with running_victim(tmp_path, "node", "--rr-echo", RR_PROTOCOL) as victim:
        target = victim.addr()
        prefix = encode_uvarint(1 << 20)
        body = b"[" * (STREAM_WINDOW - negotiation_overhead(RR_PROTOCOL) - len(prefix))
        sent = [0]

        async def one(client: RawYamux) -> None:
            for _ in range(RR_STREAMS):
                await client.send(
                    open_stream_frame(client.next_stream_id(), RR_PROTOCOL, prefix + body)
                )
                sent[0] += 1

        async def attack(established: trio.Event) -> None:
            await flood_raw_clients(target, RR_CONNECTIONS, one, established, drain=True)

        report = await run_attack(victim, "rr-partial-requests", attack)
        report.notes["streams_sent"] = sent[0]
        assert_survived(victim, report)


async def test_request_response_answers_never_read(tmp_path: Path) -> None:
    """32 peers x 32 complete 200 kB request-response requests (the per-peer inbound cap),
    whose answers are never read: the victim holds each answer until the peer takes it."""
    async with running_victim(tmp_path, "node", "--rr-echo", RR_PROTOCOL) as victim:
        target = victim.addr()
        request = json.dumps("a" * RR_REQUEST_CHARS).encode()
        message = encode_uvarint(len(request)) + request
        sent = [0]

        async def one(client: RawYamux) -> None:
            for _ in range(RR_UNREAD_STREAMS):
                sid = client.next_stream_id()
                await client.send(open_stream_frame(sid, RR_PROTOCOL, message[:STREAM_CHUNK]))
                for pos in range(STREAM_CHUNK, len(message), STREAM_CHUNK):
                    part = message[pos : pos + STREAM_CHUNK]
                    await client.send(frame(FrameType.DATA, Flag.NONE, sid, len(part), part))
                await client.send(frame(FrameType.WINDOW_UPDATE, Flag.FIN, sid, 0))
                sent[0] += 1

        async def attack(established: trio.Event) -> None:
            await flood_raw_clients(target, RR_CONNECTIONS, one, established)

        report = await run_attack(victim, "rr-answers-never-read", attack)
        report.notes["requests_sent"] = sent[0]
        assert_survived(victim, report)


async def test_relay_reservation_flood(tmp_path: Path) -> None:
    """200 fresh peer ids from one IP asking the relay for a reservation and holding on."""
    async with running_victim(tmp_path, "relay") as victim:
        target = victim.addr()
        stats = PeerFlood()
        outcomes: dict[str, int] = {}

        async def occupy(conn: Connection) -> None:
            try:
                await reserve(conn, time_limit=10)
                outcome = "reserved"
            except PEER_ERRORS as exc:
                outcome = type(exc).__name__
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

        async def attack(established: trio.Event) -> None:
            await flood_with_peers(target, RESERVING_PEERS, occupy, stats, established)

        report = await run_attack(victim, "relay-reservations", attack)
        report.notes.update(connected=stats.connected, outcomes=outcomes, errors=stats.errors)
        assert_survived(victim, report)
