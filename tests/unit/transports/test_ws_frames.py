"""The WebSocket data-frame fast path: frames we build, and how received bytes are routed."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings, strategies as st
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage
from wsproto.frame_protocol import XorMaskerSimple

from p2pstack.transports.ws_frames import (
    BytesLike,
    FrameRouter,
    binary_frame,
    binary_frames,
    mask,
)

TEXT, BINARY, CONTINUATION, PING = 0x1, 0x2, 0x0, 0x9


def frame(opcode: int, payload: bytes, *, fin: bool = True, key: bytes | None = None) -> bytes:
    """A hand-built frame (RFC 6455 §5.2)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    bit = 0x80 if key is not None else 0
    if len(payload) < 126:
        head += bytes([bit | len(payload)])
    elif len(payload) < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", len(payload))
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", len(payload))
    if key is None:
        return head + payload
    return head + key + bytes(XorMaskerSimple(key).process(bytearray(payload)))


class Recorder:
    """Collects what a router hands to each side, in order."""

    def __init__(self, *, accept: bool = True) -> None:
        self.data: list[bytes] = []
        self.views: list[BytesLike] = []
        self.wsproto = bytearray()
        self.order: list[str] = []
        self.accept = accept

    def to_wsproto(self, data: BytesLike) -> bool:
        self.wsproto += data
        self.order.append("wsproto")
        return self.accept

    def on_data(self, data: BytesLike) -> None:
        self.data.append(bytes(data))
        self.views.append(data)
        self.order.append("data")

    def router(self, *, masked: bool, max_fast: int = 1 << 20) -> FrameRouter:
        return FrameRouter(
            masked=masked, to_wsproto=self.to_wsproto, on_data=self.on_data, max_fast=max_fast
        )


def test_mask_matches_the_rfc_xor() -> None:
    data = os.urandom(1001)
    key = b"\x9a\x01\xff\x3c"
    assert mask(data, key) == bytes(XorMaskerSimple(key).process(bytearray(data)))
    assert mask(mask(data, key), key) == data


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
@pytest.mark.parametrize("client", [True, False])
def test_binary_frames_decode_with_wsproto(size: int, client: bool) -> None:
    payload = os.urandom(size)
    encoded = binary_frame(payload, masked=client)
    assert bool(encoded[1] & 0x80) == client
    peer = Connection(ConnectionType.SERVER if client else ConnectionType.CLIENT)
    peer.receive_data(encoded)
    events = list(peer.events())
    assert all(isinstance(e, BytesMessage) for e in events)
    assert b"".join(bytes(e.data) for e in events if isinstance(e, BytesMessage)) == payload
    assert isinstance(events[-1], BytesMessage)
    assert events[-1].message_finished


def test_masked_binary_frames_use_fresh_keys() -> None:
    assert binary_frame(b"x" * 10, masked=True)[2:6] != binary_frame(b"x" * 10, masked=True)[2:6]


@pytest.mark.parametrize("client", [True, False])
@pytest.mark.parametrize(("size", "frame_size"), [(0, 10), (10, 10), (25, 10), (200_000, 65536)])
def test_a_write_becomes_whole_frames_in_one_buffer(
    client: bool, size: int, frame_size: int
) -> None:
    """Frames of at most ``frame_size`` each, final and binary, every mask key its own."""
    payload = os.urandom(size)
    encoded = binary_frames(memoryview(payload), frame_size=frame_size, masked=client)
    peer = Connection(ConnectionType.SERVER if client else ConnectionType.CLIENT)
    peer.receive_data(encoded)
    events = [e for e in peer.events() if isinstance(e, BytesMessage)]
    sizes = [len(e.data) for e in events]
    expected = [frame_size] * (size // frame_size) + (
        [size % frame_size] if size % frame_size else []
    )
    assert sizes == (expected or [0])
    assert all(e.message_finished for e in events)
    assert b"".join(bytes(e.data) for e in events) == payload
    if client and len(events) > 1:
        header = 2 + (2 if frame_size >= 126 else 0)
        step = header + 4 + frame_size
        keys = {
            encoded[i + header : i + header + 4]
            for i in range(0, step * (size // frame_size), step)
        }
        assert len(keys) == size // frame_size


@settings(max_examples=60, deadline=None)
@given(
    masked=st.booleans(),
    sizes=st.lists(st.integers(min_value=1, max_value=70_000), min_size=1, max_size=4),
    cuts=st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=40),
)
def test_fast_frames_survive_any_split(masked: bool, sizes: list[int], cuts: list[int]) -> None:
    """Binary frames cut anywhere (headers and masks included) come out whole and unmasked;
    a Ping between them goes to wsproto whole, in order."""
    payloads = [os.urandom(size) for size in sizes]
    key = os.urandom(4) if masked else None
    ping = frame(PING, b"hi", key=key)
    stream = ping + b"".join(frame(BINARY, p, key=key) for p in payloads) + ping
    rec = Recorder()
    router = rec.router(masked=masked)
    pos = 0
    for cut in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        router.feed(stream[pos : pos + cut])
        pos += cut
        if pos >= len(stream):
            break
    router.feed(stream[pos:])
    assert b"".join(rec.data) == b"".join(payloads)
    assert bytes(rec.wsproto) == ping + ping
    assert rec.order[0] == "wsproto"
    assert rec.order[-1] == "wsproto"


@settings(max_examples=60, deadline=None)
@given(
    masked=st.booleans(),
    sizes=st.lists(st.integers(min_value=1, max_value=70_000), min_size=1, max_size=4),
    cuts=st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=40),
    ping_at=st.integers(min_value=0, max_value=4),
)
def test_in_place_routing_keeps_the_wire_order(
    masked: bool, sizes: list[int], cuts: list[int], ping_at: int
) -> None:
    """Fed in place, in pieces cut anywhere: payload moves to the front of each piece, and
    what follows a frame wsproto took (a Ping) goes to ``on_data``, so the order holds."""
    payloads = [os.urandom(size) for size in sizes]
    key = os.urandom(4) if masked else None
    frames = [frame(BINARY, p, key=key) for p in payloads]
    ping = frame(PING, b"hi", key=key)
    frames.insert(min(ping_at, len(frames)), ping)
    stream = b"".join(frames)
    rec = Recorder()
    router = rec.router(masked=masked)
    out = bytearray()
    pos = 0
    for cut in cuts * (len(stream) // max(1, sum(cuts)) + 1):
        piece = bytearray(stream[pos : pos + cut])
        if not piece:
            break
        count = router.feed_in_place(memoryview(piece))
        out += piece[:count] + b"".join(rec.data)
        rec.data.clear()
        pos += cut
    assert bytes(out) == b"".join(payloads)
    assert bytes(rec.wsproto) == ping


def test_in_place_payload_of_one_read_is_contiguous() -> None:
    """Two unmasked frames in one read: both payloads end up at the front, headers gone."""
    rec = Recorder()
    buffer = bytearray(frame(BINARY, b"a" * 300) + frame(BINARY, b"b" * 70_000))
    count = rec.router(masked=False).feed_in_place(memoryview(buffer))
    assert bytes(buffer[:count]) == b"a" * 300 + b"b" * 70_000
    assert not rec.data


@pytest.mark.parametrize("shared", [True, False])
def test_shared_input_is_handed_out_as_views(shared: bool) -> None:
    """Unmasked payload of immutable input comes out as views of it (no copy) on request."""
    data = frame(BINARY, b"a" * 200) + frame(BINARY, b"b" * 70_000)
    rec = Recorder()
    rec.router(masked=False).feed(data, shared=shared)
    assert rec.data == [b"a" * 200, b"b" * 70_000]
    for view in rec.views:
        assert isinstance(view, memoryview) == shared
        assert not isinstance(view, memoryview) or view.obj is data


def test_other_frames_go_to_wsproto_whole() -> None:
    """Text, fragmented binary (and its continuation), unmasked frames at a server and
    frames above the fast limit are wsproto's."""
    key = b"\x01\x02\x03\x04"
    routed = [
        frame(TEXT, b"text", key=key),
        frame(BINARY, b"first", fin=False, key=key),
        frame(BINARY, b"not allowed mid-message", key=key),
        frame(CONTINUATION, b"last", key=key),
        frame(BINARY, b"big" * 10, key=key),
    ]
    rec = Recorder()
    router = rec.router(masked=True, max_fast=29)
    for part in routed:
        router.feed(part)
    router.feed(frame(BINARY, b"fast", key=key))
    assert bytes(rec.wsproto) == b"".join(routed)
    assert rec.data == [b"fast"]


def test_wrong_masking_goes_to_wsproto() -> None:
    rec = Recorder()
    rec.router(masked=True).feed(frame(BINARY, b"unmasked"))
    assert bytes(rec.wsproto) == frame(BINARY, b"unmasked")
    assert not rec.data
    rec = Recorder()
    rec.router(masked=False).feed(frame(BINARY, b"masked", key=b"abcd"))
    assert not rec.data
    assert bytes(rec.wsproto) == frame(BINARY, b"masked", key=b"abcd")


def test_after_wsproto_refuses_it_gets_everything() -> None:
    """A frame wsproto fails on (here: reserved bits) ends routing; later bytes are its."""
    bad = bytes([0x80 | 0x40 | BINARY, 3]) + b"bad"
    rec = Recorder(accept=False)
    router = rec.router(masked=False)
    router.feed(bad + frame(BINARY, b"after"))
    router.feed(frame(BINARY, b"later"))
    assert not rec.data
    assert bytes(rec.wsproto) == bad[:2] + bad[2:] + frame(BINARY, b"after") + frame(
        BINARY, b"later"
    )


def test_non_minimal_length_goes_to_wsproto() -> None:
    non_minimal = bytes([0x80 | BINARY, 126]) + struct.pack("!H", 5) + b"short"
    rec = Recorder()
    router = rec.router(masked=False)
    router.feed(non_minimal + frame(BINARY, b"next"))
    assert not rec.data
    assert bytes(rec.wsproto) == non_minimal + frame(BINARY, b"next")
