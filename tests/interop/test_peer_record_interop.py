"""Signed peer records in identify against real js-libp2p 2.10 and py-libp2p 0.8.1.

Each peer verifies ours with its own code (js: the addresses its peer store marks certified
and the record's seq; py: ``consume_envelope`` and its peer store's ``consume_peer_record``),
and we verify theirs (certified in our peer store, the dialer trying them first).
"""

from __future__ import annotations

import time

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.host.dialer import certified_first
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import identify
from p2pstack.transports.tcp import tcp
from tests.interop.peers import Impl, peer_listening, run_dial

IMPLS = ["js", "py"]


@pytest.mark.parametrize("impl", IMPLS)
async def test_peer_accepts_our_record(impl: Impl) -> None:
    ident = identify()
    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"], transports=[tcp()], protocols=[ident]
    ) as node:
        result = await run_dial(impl, str(node.addrs[0]), identify=True)
        ours = ident.records.ours(node.identity, node.announced_addrs, time.time_ns())
        assert ours.seq > 1_600_000_000 * 10**9  # nanoseconds since the epoch
        announced = {str(a.without_peer_id()) for a in node.announced_addrs}
        assert announced
        record = result["identify"]["signed_peer_record"]
        assert record is not None, f"{impl} did not report our signed peer record"
        assert record["seq"] == str(ours.seq)
        assert {a.split("/p2p/")[0] for a in record["addrs"]} == announced
        if impl == "js":
            # js's peer store replaced the listen addresses with the record's, certified.
            assert set(result["identify"]["certified_addrs"]) == announced
        else:
            assert record["peer_id"] == str(node.peer_id)
            assert record["accepted"] is True
            assert record["stored"] is True


@pytest.mark.parametrize("impl", IMPLS)
async def test_we_verify_peer_record(impl: Impl) -> None:
    ident = identify()
    async with (
        peer_listening(impl) as peer,
        open_node(transports=[tcp()], protocols=[ident]) as node,
    ):
        conn = await node.dial(peer.addr())
        with trio.fail_after(15):
            info = await ident.wait_identified(conn)
        assert info is not None
        assert info.signed_peer_record is not None, f"{impl} sent no signed peer record"
        assert ident.records.counts["certified"] == 1
        assert ident.records.counts["rejected"] == 0
        record = node.peerstore.signed_record(conn.peer_id)
        assert record is not None
        assert record.peer_id == conn.peer_id
        assert record.seq > 0
        certified = node.peerstore.certified_addrs(conn.peer_id)
        listening = {Multiaddr(a).without_peer_id() for a in peer.listen_addrs}
        assert certified
        assert set(certified) <= listening | set(info.listen_addrs)
        assert certified_first(node.peerstore, conn.peer_id)[: len(certified)] == certified
