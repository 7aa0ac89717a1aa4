"""Where the milliseconds of a dial go: one dial taken apart, layer by layer, on the wire.

The dialler here runs the node's own upgrader over a TCP stream it opened itself, wrapped so
that every write and read is timestamped. Each dial is then a sequence of *turns*: local work
(from a read, or the start, to the next write) and waits (from a write to the next read: the
round trip plus the listener's work). The full ``node.dial`` + ``new_stream`` is timed too,
so what the node adds (admission, identify, events) shows as the difference.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, Final

import trio

from p2pstack.abc.transport import RawConnection
from p2pstack.benchmarks.worker.common import Control, Params, emit
from p2pstack.compose import open_node
from p2pstack.host.gater import AllowAllConnections
from p2pstack.host.upgrader import Upgrader
from p2pstack.identity import Identity, PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.multistream import select_protocol
from p2pstack.muxers.yamux import yamux
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import PING_PROTOCOL, ping
from p2pstack.role import Role
from p2pstack.security.noise import noise

Event = tuple[float, str, int]


class TracedStream(trio.abc.HalfCloseableStream):
    """A TCP stream that logs ``(time, "send"|"recv", bytes)`` for each write and read."""

    def __init__(self, inner: trio.SocketStream, events: list[Event]) -> None:
        self.inner = inner
        self.events = events

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.events.append((time.perf_counter(), "send", len(data)))
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.inner.receive_some(max_bytes)
        self.events.append((time.perf_counter(), "recv", len(data)))
        return data

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()


def turns(start: float, events: list[Event]) -> list[dict[str, Any]]:
    """Fold the events into alternating turns: ``local`` (from the first read of a run of
    reads, or ``start``, to the last write of the next run of writes; ``bytes`` written) and
    ``wait`` (from that last write to the next read; ``bytes`` read in that run of reads)."""
    runs: list[tuple[str, float, float, int]] = []  # direction, first, last, bytes
    for stamp, direction, count in events:
        if runs and runs[-1][0] == direction:
            kind, first, _, size = runs[-1]
            runs[-1] = (kind, first, stamp, size + count)
        else:
            runs.append((direction, stamp, stamp, count))
    out: list[dict[str, Any]] = []
    since = start
    for index, (direction, first, last, size) in enumerate(runs):
        if direction == "send":
            out.append({"kind": "local", "ms": (last - since) * 1000, "bytes": size})
            if index + 1 < len(runs):
                ahead = runs[index + 1]
                out.append({"kind": "wait", "ms": (ahead[1] - last) * 1000, "bytes": ahead[3]})
                since = ahead[1]
        elif index == 0:  # the peer spoke first
            out.append({"kind": "wait", "ms": (first - start) * 1000, "bytes": size})
            since = first
    return out


async def one_dial(upgrader: Upgrader, host: str, port: int, peer: PeerId) -> dict[str, Any]:
    """One dial with a timestamp at every step and on every write and read."""
    events: list[Event] = []
    t0 = time.perf_counter()
    tcp = await trio.open_tcp_stream(host, port)
    t_tcp = time.perf_counter()
    traced = TracedStream(tcp, events)
    raw = RawConnection(traced, None, Multiaddr(f"/ip4/{host}/tcp/{port}"))
    upgraded = await upgrader.upgrade(raw, role=Role.INITIATOR, expected_peer=peer)
    t_upgraded = time.perf_counter()
    session = upgraded.session
    async with trio.open_nursery() as nursery:
        await nursery.start(session.run)
        muxed = await session.open_stream()
        t_opened = time.perf_counter()
        _, stream = await select_protocol(muxed, [PING_PROTOCOL], timeout=10)
        t_negotiated = time.perf_counter()
        await stream.send_all(bytes(32))
        got = b""
        while len(got) < 32:
            got += await stream.receive_some(32 - len(got))
        t_ping = time.perf_counter()
        await session.aclose()
        nursery.cancel_scope.cancel()
    wire = [e for e in events if e[0] >= t_tcp]
    return {
        "tcp_connect": (t_tcp - t0) * 1000,
        "upgrade": (t_upgraded - t_tcp) * 1000,
        "open_stream": (t_opened - t_upgraded) * 1000,
        "negotiate_first": (t_negotiated - t_opened) * 1000,
        "first_ping": (t_ping - t_negotiated) * 1000,
        "total": (t_negotiated - t0) * 1000,
        "turns": turns(t_tcp, [e for e in wire if e[0] <= t_negotiated]),
    }


def cpu_costs(repeat: int) -> dict[str, float]:
    """Microseconds per call of the per-connection CPU items of a Noise XX dial."""
    from cryptography.hazmat.primitives.asymmetric import x25519

    from p2pstack.identity.keys import PublicKey
    from p2pstack.security.noise.handshake import NoiseHandshake, StaticKey
    from p2pstack.security.noise.payload import decode_payload, encode_payload

    me, other = Identity.generate(), Identity.generate()
    static = x25519.X25519PrivateKey.generate()
    static_pub = static.public_key().public_bytes_raw()
    payload = encode_payload(me, static_pub)
    fields = decode_payload(payload)
    key = PublicKey.from_protobuf(fields.identity_key)
    message = b"x" * 64
    signature = me.sign(message)

    statics = (StaticKey(me), StaticKey(other))

    def responder_roundtrip(reuse: bool = False) -> None:
        mine, theirs = statics if reuse else (None, None)
        a = NoiseHandshake(me, role=Role.INITIATOR, static=mine)
        b = NoiseHandshake(other, role=Role.RESPONDER, static=theirs)
        b.receive_data(a.data_to_send())
        a.receive_data(b.data_to_send())
        b.receive_data(a.data_to_send())

    items: dict[str, Callable[[], object]] = {
        "x25519_generate": x25519.X25519PrivateKey.generate,
        "x25519_exchange": lambda: static.exchange(static.public_key()),
        "ed25519_sign": lambda: me.sign(message),
        "ed25519_verify": lambda: me.public_key.verify(message, signature),
        "payload_encode_and_sign": lambda: encode_payload(me, static_pub),
        "payload_decode": lambda: decode_payload(payload),
        "public_key_from_protobuf": lambda: PublicKey.from_protobuf(fields.identity_key),
        "peer_id_from_key": key.to_peer_id,
        "noise_xx_both_sides": responder_roundtrip,
        "noise_xx_both_sides_reused_keys": lambda: responder_roundtrip(reuse=True),
    }
    costs: dict[str, float] = {}
    for name, call in items.items():
        call()
        start = time.perf_counter()
        for _ in range(repeat):
            call()
        costs[name] = (time.perf_counter() - start) / repeat * 1e6
    return costs


def _median_turns(dials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shapes = [[t["kind"] for t in d["turns"]] for d in dials]
    common = max(shapes, key=shapes.count)
    same = [d["turns"] for d, shape in zip(dials, shapes, strict=True) if shape == common]
    return [
        {
            "kind": kind,
            "ms": statistics.median(t[i]["ms"] for t in same),
            "bytes": statistics.median(t[i]["bytes"] for t in same),
        }
        for i, kind in enumerate(common)
    ]


STEPS: Final = ("tcp_connect", "upgrade", "open_stream", "negotiate_first", "first_ping", "total")


async def dial_breakdown(params: Params, control: Control) -> None:
    """``connects`` traced dials, then as many full ``node.dial`` + ``new_stream``."""
    addr = Multiaddr(params["addr"])
    peer = addr.peer_id()
    assert peer is not None
    where = addr.host_port()
    assert where is not None
    host, port = where
    async with open_node(protocols=[ping(), identify()]) as node:
        upgrader = Upgrader(
            identity=node.identity,
            security=[noise()],
            muxers=[yamux()],
            gater=AllowAllConnections(),
        )
        dials = [await one_dial(upgrader, host, port, peer) for _ in range(params["connects"])]
        full: list[float] = []
        dial_only: list[float] = []
        for _ in range(params["connects"]):
            start = time.perf_counter()
            conn = await node.dial(addr)
            dial_only.append((time.perf_counter() - start) * 1000)
            stream = await conn.new_stream(PING_PROTOCOL)
            full.append((time.perf_counter() - start) * 1000)
            await stream.aclose()
            await conn.aclose()
            await conn.wait_closed()
    steps = {name: statistics.median(d[name] for d in dials) for name in STEPS}
    emit(
        {
            "steps_ms": steps,
            "spread_ms": {
                name: [min(d[name] for d in dials), max(d[name] for d in dials)] for name in STEPS
            },
            "turns": _median_turns(dials),
            "node_dial_ms": statistics.median(dial_only),
            "node_first_stream_ms": statistics.median(full),
            "cpu_us": cpu_costs(params.get("cpu_repeat", 200)),
        }
    )
