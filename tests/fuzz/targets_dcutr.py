"""Fuzz target of the DCUtR message decoder (``/libp2p/dcutr``), and its seeds."""

from __future__ import annotations

from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat.dcutr.addrs import punchable, select
from p2pstack.protocols.nat.dcutr.messages import MAX_MESSAGE_SIZE, SYNC, connect, decode, encode

from .registry import decodes, target


@target("dcutr")
def dcutr(data: bytes) -> None:
    """Decode as the service does (at most 8 addresses of at most 64 bytes kept) and use what
    came out: every kept address re-encodes, prints and goes through the punch rules."""
    message = decodes(decode, data, max_addrs=8, max_addr_len=64)
    if message is None:
        return
    assert len(data) <= MAX_MESSAGE_SIZE
    assert len(message.addrs) <= 8
    for addr in message.addrs:
        assert Multiaddr.from_bytes(addr.to_bytes()) == addr
        punchable(addr, allow_private=True)
        str(addr)
    assert len(select(message.addrs, allow_private=True, limit=4)) <= 4
    assert decode(encode(message), max_addrs=8, max_addr_len=64).addrs == message.addrs


def seeds() -> dict[str, bytes]:
    """Seed inputs: a CONNECT, a SYNC, a CONNECT with unparseable and oversized addresses."""
    addrs = [
        Multiaddr("/ip4/5.5.5.1/tcp/4001"),
        Multiaddr("/ip6/2001:db8::1/tcp/4001/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"),
    ]
    hostile = (
        b"\x08\x64" + b"".join(b"\x12\x03\xff\xff\xff" for _ in range(20)) + b"\x12\x50" + bytes(80)
    )
    return {
        "connect": encode(connect(addrs)),
        "sync": encode(SYNC),
        "hostile-addrs": hostile,
        "unknown-type": b"\x08\x01",
    }
