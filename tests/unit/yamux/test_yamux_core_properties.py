"""Core properties: window auto-tuning, arbitrary input, and input-split invariance."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from p2pstack.muxers.yamux import YamuxConfig, YamuxCore
from p2pstack.muxers.yamux.errors import YamuxProtocolError
from p2pstack.muxers.yamux.frames import encode_header
from p2pstack.muxers.yamux.stream_record import StreamRecord
from p2pstack.role import Role
from tests.helpers.yamux_core import ACK, WU, CorePair, sent, take_ping

KiB = 1024
MiB = 1024 * KiB


def _connected(config: YamuxConfig, rtt: float) -> CorePair:
    pair = CorePair(config)
    pair.now = rtt
    pair.settle()
    assert pair.client.rtt == rtt
    return pair


def _pump(
    pair: CorePair, sender: StreamRecord, receiver: StreamRecord, step: float, rounds: int
) -> int:
    """Server sends as fast as the window allows; the client reads it all each round."""
    total = 0
    for _ in range(rounds):
        pair.server.send_data(sender, memoryview(bytes(4 * MiB)))
        pair.transfer(pair.server, pair.client)
        pair.now += step
        while receiver.buffered:
            total += len(pair.client.read(receiver, 1 * MiB, pair.now))
        pair.transfer(pair.client, pair.server)
    return total


def _open(pair: CorePair) -> tuple[StreamRecord, StreamRecord]:
    client_side = pair.client.open_stream()
    pair.transfer(pair.client, pair.server)
    server_side = pair.server.accept_stream(pair.now)
    assert server_side is not None
    pair.transfer(pair.server, pair.client)
    return client_side, server_side


def test_window_doubles_up_to_max_when_updates_are_frequent() -> None:
    pair = _connected(YamuxConfig(max_window=2 * MiB), rtt=0.1)
    reader, writer = _open(pair)
    sizes = []
    for _ in range(6):
        _pump(pair, writer, reader, step=0.01, rounds=1)
        sizes.append(reader.recv_max)
    assert sizes[-1] == 2 * MiB
    assert sizes == sorted(sizes)
    assert {256 * KiB * 2**i for i in range(4)} >= set(sizes)
    assert writer.send_window <= reader.recv_max


def test_window_stays_when_updates_are_slow() -> None:
    pair = _connected(YamuxConfig(max_window=2 * MiB), rtt=0.1)
    reader, writer = _open(pair)
    _pump(pair, writer, reader, step=1.0, rounds=5)
    assert reader.recv_max == 256 * KiB


def test_no_growth_without_rtt() -> None:
    pair = CorePair(YamuxConfig(max_window=2 * MiB))
    reader, writer = _open(pair)  # the start pings were never answered
    _pump(pair, writer, reader, step=0.0, rounds=5)
    assert reader.recv_max == 256 * KiB


def test_connection_budget_bounds_growth() -> None:
    config = YamuxConfig(max_window=4 * MiB, connection_window_budget=1 * MiB)
    pair = _connected(config, rtt=0.1)
    streams = [_open(pair) for _ in range(3)]
    for _ in range(6):
        for reader, writer in streams:
            _pump(pair, writer, reader, step=0.001, rounds=1)
    grown = [reader.recv_max - 256 * KiB for reader, _ in streams]
    assert sum(grown) == 1 * MiB
    assert all(g >= 0 for g in grown)
    # Closing a tuned stream returns its share to the budget.
    reader, writer = streams[0]
    pair.client.reset_stream(reader)
    pair.transfer(pair.client, pair.server)
    fresh = _open(pair)
    for _ in range(6):
        _pump(pair, fresh[1], fresh[0], step=0.001, rounds=1)
    assert fresh[0].recv_max - 256 * KiB == grown[0]


@settings(max_examples=300)
@given(st.binary(max_size=200), st.sampled_from(Role))
def test_arbitrary_bytes_are_processed_or_rejected_with_protocol_error(
    raw: bytes, role: Role
) -> None:
    core = YamuxCore(role=role)
    try:
        core.receive_data(raw, 0.0)
    except YamuxProtocolError:
        assert core.terminated is not None
        assert core.data_to_send()[-1][1:2] == b"\x03"  # GoAway was queued last
    _check_invariants(core)


_frames = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 15),
        st.sampled_from([0, 1, 2, 3, 4, 5, 7]),
        st.integers(0, 300),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(_frames, st.lists(st.integers(1, 50), max_size=20))
def test_structured_frames_in_any_split(
    frames: list[tuple[int, int, int, int]], cuts: list[int]
) -> None:
    raw = b"".join(
        encode_header(ftype, flags, sid, length) + (bytes(length) if ftype == 0 else b"")  # type: ignore[arg-type]
        for ftype, flags, sid, length in frames
    )
    core = YamuxCore(role=Role.RESPONDER)
    pos = 0
    try:
        for cut in [*cuts, len(raw)]:
            core.receive_data(raw[pos : pos + cut], 0.0)
            pos += cut
    except YamuxProtocolError:
        assert core.terminated is not None
    _check_invariants(core)


def _check_invariants(core: YamuxCore) -> None:
    assert core.num_streams <= core.config.max_streams
    while (stream := core.accept_stream(0.0)) is not None:
        assert stream.buffered == sum(len(c) for c in stream.chunks)
        assert stream.recv_window >= 0
        assert stream.buffered <= stream.recv_max


_actions = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.just(0)),
        st.tuples(st.just("send"), st.integers(1, 40_000)),
        st.tuples(st.just("eof"), st.just(0)),
        st.tuples(st.just("reset"), st.just(0)),
        st.tuples(st.just("ping"), st.just(0)),
    ),
    max_size=12,
)


def _script(actions: list[tuple[str, int]]) -> tuple[bytes, dict[int, bytes]]:
    """Run a client core through ``actions``; return its output and the data per stream."""
    client = YamuxCore(YamuxConfig(max_frame_size=16 * KiB), role=Role.INITIATOR)
    take_ping(client)
    streams: list[StreamRecord] = []
    expected: dict[int, bytes] = {}
    out = bytearray()
    counter = 0
    for action, arg in actions:
        if action == "open" or not streams:
            streams.append(client.open_stream())
            expected[streams[-1].stream_id] = b""
        stream = streams[-1]
        if action == "send" and not (stream.fin_sent or stream.is_reset):
            data = bytes((counter + i) % 251 for i in range(arg))
            counter += arg
            n = client.send_data(stream, memoryview(data))
            expected[stream.stream_id] += data[:n]
        elif action == "eof":
            client.send_eof(stream)
        elif action == "reset":
            client.reset_stream(stream)
            expected.pop(stream.stream_id, None)
        elif action == "ping":
            client.ping(0.0)
        out += b"".join(client.data_to_send())
    return bytes(out), expected


def _receive(
    chunks: list[bytes],
) -> tuple[dict[int, bytes], list[tuple[int, int, int, int, bytes]]]:
    server = YamuxCore(role=Role.RESPONDER)
    take_ping(server)
    for chunk in chunks:
        server.receive_data(chunk, 0.0)
    got = {}
    while (stream := server.accept_stream(0.0)) is not None:
        if not stream.is_reset:
            got[stream.stream_id] = stream.take(10 * MiB)
    return got, sent(server)


@settings(max_examples=100, deadline=None)
@given(_actions, st.data())
def test_input_split_does_not_matter(actions: list[tuple[str, int]], data: st.DataObject) -> None:
    raw, expected = _script(actions)
    whole = _receive([raw])
    assert whole[0] == expected
    if len(raw) <= 50_000:
        assert _receive([raw[i : i + 1] for i in range(len(raw))]) == whole
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert _receive(pieces) == whole


@settings(max_examples=100, deadline=None)
@given(_actions, st.binary(min_size=1, max_size=64))
def test_trailing_garbage_after_valid_input(actions: list[tuple[str, int]], garbage: bytes) -> None:
    raw, expected = _script(actions)
    server = YamuxCore(role=Role.RESPONDER)
    try:
        server.receive_data(raw + garbage, 0.0)
    except YamuxProtocolError:
        assert server.terminated is not None
        return
    while (stream := server.accept_stream(0.0)) is not None:
        if stream.stream_id in expected and not stream.is_reset:
            assert stream.take(10 * MiB).startswith(expected[stream.stream_id])


def test_data_frame_payload_split_across_reads_is_streamed() -> None:
    pair = CorePair()
    pair.settle()
    stream = pair.client.open_stream()
    pair.client.send_data(stream, memoryview(b"abcdefgh"))
    raw = b"".join(pair.client.data_to_send())
    pair.server.receive_data(raw[:-5], 0.0)
    inbound = pair.server.accept_stream(0.0)
    assert inbound is not None
    assert inbound.take(100) == b"abc"
    pair.server.receive_data(raw[-5:], 0.0)
    assert inbound.take(100) == b"defgh"
    assert [f[:2] for f in sent(pair.server)] == [(WU, ACK)]
