"""Yamux-level attacks over real Noise sessions (issue 12, attacks 4 and 6): streams whose
answers are never read, pings whose pongs are never read, SYNs after the attacker's own
GoAway, SYN floods, and finished streams that must stop counting."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.muxers.yamux.frames import Flag, FrameType
from p2pstack.protocols.echo import ECHO_PROTOCOL, echo_peer
from p2pstack.protocols.identify import IDENTIFY_PROTOCOL
from p2pstack.transports.tcp import tcp

from .rawyamux import (
    STREAM_WINDOW,
    RawYamux,
    close_all,
    connect_raw_yamux,
    flood_raw_clients,
    frame,
    negotiation_overhead,
    open_stream_frame,
)
from .scenario import assert_survived, run_attack
from .victim import running_victim

pytestmark = pytest.mark.attack

ECHO_CONNECTIONS: Final = 2
ECHO_STREAMS: Final = 256
"""The issue's size: two connections x 256 echo streams, answers never read."""
PINGS: Final = 10_000_000
"""Yamux pings sent without reading one pong (120 MB of frames)."""
PING_BATCH: Final = 5000
PING_SETUP: Final = 60.0
"""The victim takes a while to parse 10 million frames; probing starts once all are sent."""
SYN_FLOOD: Final = 100_000
"""The issue's size: SYNs of 100,000 streams on one connection."""
SYN_BATCH: Final = 5000
GOAWAY_CONNECTIONS: Final = 4
GOAWAY_STREAMS: Final = 256
FINISHED_STREAMS: Final = 300
"""More than the 256 streams a connection may hold at once: each way of finishing a stream
is repeated this often, then a new stream must still work."""
VICTIM_IDENTIFY_WAIT: Final = 5.0
"""Most to wait for the victim's own identify stream (which the test refuses first)."""
LINGER_DEADLINE: Final = 10.0
"""Seconds a stream the victim finished may keep counting after the victim is done."""


def _echo_payload() -> bytes:
    return b"\0" * (STREAM_WINDOW - negotiation_overhead(ECHO_PROTOCOL))


async def _send_echo_streams(client: RawYamux, count: int, sent: list[int]) -> None:
    """Open ``count`` echo streams, each filling its whole initial window."""
    payload = _echo_payload()
    for _ in range(count):
        await client.send(open_stream_frame(client.next_stream_id(), ECHO_PROTOCOL, payload))
        sent[0] += 1


async def test_echo_streams_never_read(tmp_path: Path) -> None:
    async with running_victim(tmp_path) as victim:
        target = victim.addr()
        sent = [0]

        async def attack(established: trio.Event) -> None:
            async def job(client: RawYamux) -> None:
                await _send_echo_streams(client, ECHO_STREAMS, sent)

            await flood_raw_clients(target, ECHO_CONNECTIONS, job, established)

        report = await run_attack(victim, "echo-never-read", attack)
        report.notes["streams_sent"] = sent[0]
        assert_survived(victim, report)


async def test_ping_flood_pongs_never_read(tmp_path: Path) -> None:
    async with running_victim(tmp_path) as victim:
        target = victim.addr()
        sent = [0]
        batch = b"".join(frame(FrameType.PING, Flag.SYN, 0, opaque) for opaque in range(PING_BATCH))

        async def attack(established: trio.Event) -> None:
            client = await connect_raw_yamux(target)
            try:
                for _ in range(PINGS // PING_BATCH):
                    await client.send(batch)
                    sent[0] += PING_BATCH
                established.set()  # the victim has read them all (minus socket buffers)
                await trio.sleep_forever()
            finally:
                await close_all([client])

        report = await run_attack(victim, "ping-flood", attack, setup_timeout=PING_SETUP)
        report.notes["pings_sent"] = sent[0]
        assert_survived(victim, report)


async def test_syns_after_own_goaway(tmp_path: Path) -> None:
    """GoAway(0), then 256 echo streams filling their windows, on four connections."""
    async with running_victim(tmp_path) as victim:
        target = victim.addr()
        sent = [0]

        async def attack(established: trio.Event) -> None:
            async def job(client: RawYamux) -> None:
                await client.send(frame(FrameType.GO_AWAY, Flag.NONE, 0, 0))
                await _send_echo_streams(client, GOAWAY_STREAMS, sent)

            await flood_raw_clients(target, GOAWAY_CONNECTIONS, job, established)

        report = await run_attack(victim, "syn-after-goaway", attack)
        report.notes["streams_sent"] = sent[0]
        assert_survived(victim, report)


async def test_streams_after_own_goaway_are_not_served(tmp_path: Path) -> None:
    """A peer that sent GoAway may not open streams: the victim must not echo on them."""
    async with running_victim(tmp_path) as victim:
        client = await connect_raw_yamux(victim.addr())
        try:
            await client.send(frame(FrameType.GO_AWAY, Flag.NONE, 0, 0))
            ids = [client.next_stream_id() for _ in range(8)]
            await client.send(
                b"".join(open_stream_frame(sid, ECHO_PROTOCOL, b"hello", fin=True) for sid in ids)
            )
            echoed: set[int] = set()
            with trio.move_on_after(3):
                async for header in client.read_headers():
                    if header.type is FrameType.DATA and header.length and header.stream_id in ids:
                        echoed.add(header.stream_id)
        finally:
            await client.aclose()
        assert victim.alive, victim.describe_death()
        assert not echoed, f"the victim served {len(echoed)}/8 streams opened after our GoAway"


async def test_syn_flood(tmp_path: Path) -> None:
    """100,000 stream SYNs (WindowUpdate|SYN) on one connection, as fast as it takes them."""
    async with running_victim(tmp_path) as victim:
        target = victim.addr()
        sent = [0]

        async def attack(established: trio.Event) -> None:
            client = await connect_raw_yamux(target)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(client.drain)
                    established.set()
                    for _ in range(SYN_FLOOD // SYN_BATCH):
                        batch = b"".join(
                            frame(FrameType.WINDOW_UPDATE, Flag.SYN, client.next_stream_id(), 0)
                            for _ in range(SYN_BATCH)
                        )
                        await client.send(batch)
                        sent[0] += SYN_BATCH
                    await trio.sleep_forever()
            finally:
                await close_all([client])

        report = await run_attack(victim, "syn-flood", attack)
        report.notes["syns_sent"] = sent[0]
        assert_survived(victim, report)


async def test_closed_and_reset_streams_stop_counting(tmp_path: Path) -> None:
    """Complete, reset and half-closed-then-dropped streams, 300 of each on one connection:
    none may keep holding one of the connection's 256 stream slots."""
    async with (
        running_victim(tmp_path) as victim,
        open_node(protocols=[], transports=[tcp()]) as node,
    ):
        conn = await node.dial(victim.addr())
        with trio.fail_after(60):
            for _ in range(FINISHED_STREAMS):
                await echo_peer(node, conn, b"ping")
            for _ in range(FINISHED_STREAMS):
                stream = await conn.new_stream(ECHO_PROTOCOL)
                await stream.send_all(b"x")
                await stream.reset()
            for _ in range(FINISHED_STREAMS):
                stream = await conn.new_stream(ECHO_PROTOCOL)
                await stream.send_all(b"x")
                await stream.send_eof()
                await stream.aclose()
            assert await echo_peer(node, conn, b"still serving") == b"still serving"
        assert victim.alive, victim.describe_death()


async def test_streams_finished_by_the_victim_stop_counting(tmp_path: Path) -> None:
    """300 identify streams the victim answers and closes, which the attacker never closes:
    once the victim is done with them they may not keep holding the connection's stream
    slots, so a new echo stream must still be served (within LINGER_DEADLINE)."""
    async with running_victim(tmp_path) as victim:
        client = await connect_raw_yamux(victim.addr())
        ended: set[int] = set()
        echoed: set[int] = set()
        echo_ids: set[int] = set()
        victim_stream_refused = trio.Event()

        async def read() -> None:
            async for header in client.read_headers():
                victims_own = header.stream_id and header.stream_id % 2 == 0
                if victims_own and header.flags & Flag.SYN:
                    # The victim's own stream (identify) would end by timeout later and free
                    # a slot by accident: refuse it before taking the slots.
                    await client.send(frame(FrameType.WINDOW_UPDATE, Flag.RST, header.stream_id, 0))
                    victim_stream_refused.set()
                if header.flags & (Flag.FIN | Flag.RST):
                    ended.add(header.stream_id)
                if header.type is FrameType.DATA and header.length:
                    echoed.add(header.stream_id)

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                with trio.move_on_after(VICTIM_IDENTIFY_WAIT):
                    await victim_stream_refused.wait()
                ids = [client.next_stream_id() for _ in range(FINISHED_STREAMS)]
                await client.send(
                    b"".join(open_stream_frame(sid, IDENTIFY_PROTOCOL) for sid in ids)
                )
                with trio.move_on_after(LINGER_DEADLINE):
                    while not ended.issuperset(ids):  # noqa: ASYNC110 - the reader fills it
                        await trio.sleep(0.05)
                answered = len(ended.intersection(ids))
                with trio.move_on_after(LINGER_DEADLINE):
                    while True:
                        sid = client.next_stream_id()
                        echo_ids.add(sid)
                        await client.send(open_stream_frame(sid, ECHO_PROTOCOL, b"hi", fin=True))
                        with trio.move_on_after(1):
                            while sid not in echoed and sid not in ended:  # noqa: ASYNC110
                                await trio.sleep(0.05)
                        if sid in echoed:
                            break
                        await trio.sleep(0.5)
                served = bool(echoed & echo_ids)
                nursery.cancel_scope.cancel()
        finally:
            await close_all([client])
        assert victim.alive, victim.describe_death()
        assert answered == FINISHED_STREAMS, f"the victim ended {answered}/{FINISHED_STREAMS}"
        assert served, (
            f"no echo stream served within {LINGER_DEADLINE} s after {FINISHED_STREAMS} "
            "streams the victim had finished (they still count against its stream limit)"
        )
