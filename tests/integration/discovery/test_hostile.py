"""Malformed and hostile mDNS answers, sent on 127.0.0.1 by a raw zeroconf responder.

The records are crafted by hand and multicast without registering anything, as a hostile
host on the link could. The node must log and ignore them, stay within its bounds, and keep
working.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import pytest
import trio
from zeroconf import IPVersion, Zeroconf
from zeroconf._dns import DNSPointer, DNSText
from zeroconf._protocol.outgoing import DNSOutgoing

from p2pstack.compose import open_node
from p2pstack.host.events import Event
from p2pstack.identity import Identity, PeerId
from p2pstack.protocols.discovery.mdns import MdnsConfig, MdnsService, PeerDiscovered, mdns
from p2pstack.protocols.discovery.mdns.bridge import LoopThread, run_in_thread
from p2pstack.protocols.discovery.mdns.records import SERVICE_TYPE, generate_peer_name
from p2pstack.protocols.ping import ping, ping_peer
from tests.helpers import wait_until

_PTR, _TXT, _IN, _UNIQUE = 12, 16, 1, 0x8000
_RESPONSE = 0x8000 | 0x0400  # QR | AA


def txt(*strings: bytes) -> bytes:
    return b"".join(bytes([len(s)]) + s for s in strings)


def dnsaddr(addr: str, peer: PeerId | str) -> bytes:
    return f"dnsaddr={addr}/p2p/{peer}".encode()


@pytest.fixture
async def attacker() -> AsyncIterator[Callable[[list[tuple[str, bytes]], int], None]]:
    """``send([(peer-name, rdata), ...], ttl)``: multicast PTR + TXT answers on 127.0.0.1."""
    loop_thread = LoopThread("attacker")  # a plain asyncio loop, whatever the policy
    zc = await loop_thread.call(
        lambda: Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    )

    def send(answers: list[tuple[str, bytes]], ttl: int = 120) -> None:
        out = DNSOutgoing(_RESPONSE)
        for label, rdata in answers:
            instance = f"{label}.{SERVICE_TYPE}"
            out.add_answer_at_time(DNSPointer(SERVICE_TYPE, _PTR, _IN, ttl, instance), 0)
            out.add_answer_at_time(DNSText(instance, _TXT, _IN | _UNIQUE, ttl, rdata), 0)
        zc.send(out)

    try:
        yield send
    finally:
        await run_in_thread(zc.close, name="attacker-close")
        await loop_thread.stop()


def discovered(events: trio.MemoryReceiveChannel[Event]) -> list[PeerDiscovered]:
    out: list[PeerDiscovered] = []
    while True:
        try:
            event = events.receive_nowait()
        except trio.WouldBlock:
            return out
        if isinstance(event, PeerDiscovered):
            out.append(event)


async def settle(service: MdnsService, *, announcements: int, resend: Callable[[], None]) -> None:
    """Wait until ``announcements`` were handled, sending them again each second meanwhile:
    an unsolicited multicast answer sent while the node's zeroconf was still starting can be
    missed, and a real responder would repeat itself (it answers the browser's queries)."""

    def handled() -> bool:
        return service.stats.announcements + service.stats.rate_limited >= announcements

    with trio.fail_after(10):
        while not handled():
            resend()
            with contextlib.suppress(trio.TooSlowError):
                await wait_until(handled, seconds=1, step=0.05)
    await trio.sleep(0.3)


async def test_malformed_records_are_ignored(
    attacker: Callable[[list[tuple[str, bytes]], int], None],
    no_thread_leak: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="p2pstack.discovery.mdns")
    alice, bob = Identity.generate().peer_id, Identity.generate().peer_id
    service = mdns(MdnsConfig(interfaces=("127.0.0.1",)))
    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"], protocols=[ping()], services=[service]
    ) as node:
        with node.events.subscribe() as events:
            hostile = [
                # not a multiaddr, and a peer id that is not one
                (generate_peer_name(), txt(dnsaddr("/ip4/999.0.0.1/tcp/1", alice))),
                (generate_peer_name(), txt(dnsaddr("/ip4/10.0.0.1/tcp/1", "QmNotAPeerId"))),
                # no /p2p at all; not UTF-8
                (generate_peer_name(), txt(b"dnsaddr=/ip4/10.0.0.1/tcp/1", b"dnsaddr=\xff\xfe")),
                # one instance, two peers
                (generate_peer_name(), txt(dnsaddr("/ip4/10.0.0.1/tcp/1", alice),
                                           dnsaddr("/ip4/10.0.0.2/tcp/1", bob))),
                # our own peer id under another name
                (generate_peer_name(), txt(dnsaddr("/ip4/10.0.0.3/tcp/1", node.peer_id))),
                # oversized: far more strings than any peer needs
                (generate_peer_name(), txt(*[dnsaddr(f"/ip4/10.0.1.1/tcp/{p}", alice)
                                             for p in range(1, 81)])),
                # a string that claims more bytes than the record holds
                (generate_peer_name(), b"\xfadnsaddr=/ip4/10.0.0.1/tcp/1"),
            ]  # fmt: skip
            await settle(service, announcements=len(hostile), resend=lambda: attacker(hostile, 120))
            assert discovered(events) == []
        assert service.stats.rejected >= len(hostile)  # each at least once (resent if missed)
        assert service.peers() == {}
        assert node.peerstore.addrs(alice) == []
        assert node.peerstore.addrs(bob) == []
        assert node.peerstore.addrs(node.peer_id) == []
        assert len([r for r in caplog.records if "ignor" in r.getMessage()]) >= len(hostile)


async def test_bad_strings_do_not_spoil_good_ones(
    attacker: Callable[[list[tuple[str, bytes]], int], None], no_thread_leak: None
) -> None:
    alice = Identity.generate().peer_id
    service = mdns(MdnsConfig(interfaces=("127.0.0.1",), max_addrs_per_peer=3))
    many = [dnsaddr(f"/ip4/10.0.0.1/tcp/{p}", alice) for p in range(1, 10)]
    async with open_node(protocols=[ping()], services=[service]) as node:
        with node.events.subscribe() as events:
            rdata = txt(b"txtvers=1", b"dnsaddr=garbage", *many)
            answer = [(generate_peer_name(), rdata)]
            await settle(service, announcements=1, resend=lambda: attacker(answer, 120))
            found = discovered(events)
        assert found  # the same answer resent is the same peer: one or more identical events
        assert {event.peer_id for event in found} == {alice}
        assert all(len(event.addrs) == 3 for event in found)  # max_addrs_per_peer
        assert len(node.peerstore.addrs(alice)) == 3


async def test_flood_is_bounded_and_the_node_keeps_working(
    attacker: Callable[[list[tuple[str, bytes]], int], None], no_thread_leak: None
) -> None:
    config = MdnsConfig(
        interfaces=("127.0.0.1",),
        max_peers=16,
        announcements_per_second=10,
        announcement_burst=20,
        queue_size=32,
    )
    service = mdns(config)
    flood = [
        (generate_peer_name(), txt(dnsaddr("/ip4/10.9.0.1/tcp/1", Identity.generate().peer_id)))
        for _ in range(400)
    ]
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[ping()], services=[service]) as node,
        open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[ping()]) as other,
    ):
        for start in range(0, len(flood), 20):
            attacker(flood[start : start + 20], 120)
        await trio.sleep(2.0)
        stats = service.stats
        assert len(service.peers()) <= 16
        assert stats.table_full + stats.rate_limited + service.stats.queue_dropped > 0
        assert stats.announcements <= 20 + 10 * 3  # the burst plus the rate, roughly
        assert len(node.peerstore.peers()) <= 16 + 1
        assert len(await ping_peer(node, other.addrs[0], count=3)) == 3
