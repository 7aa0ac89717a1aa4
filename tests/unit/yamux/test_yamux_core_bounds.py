"""The sans-IO core's bounds: ping answers, timers, refused SYNs, stream release, memory."""

from __future__ import annotations

import pytest

from p2pstack.errors import LimitExceeded
from p2pstack.muxers.yamux import YamuxConfig, YamuxCore
from p2pstack.muxers.yamux.errors import KeepAliveTimeout, WriteTimeout
from p2pstack.muxers.yamux.events import InboundStreamOpened, StreamClosed
from p2pstack.role import Role
from tests.helpers.budget import CountingBudget
from tests.helpers.yamux_core import (
    ACK,
    DATA,
    FIN,
    GO_AWAY,
    PING,
    RST,
    SYN,
    WU,
    frame,
    parse_frames,
    sent,
    take_ping,
)

KiB = 1024
WINDOW = 256 * KiB


def responder(config: YamuxConfig | None = None, memory: CountingBudget | None = None) -> YamuxCore:
    core = YamuxCore(config, role=Role.RESPONDER, memory=memory)
    take_ping(core)
    return core


def initiator(config: YamuxConfig | None = None, memory: CountingBudget | None = None) -> YamuxCore:
    core = YamuxCore(config, role=Role.INITIATOR, memory=memory)
    take_ping(core)
    return core


# ---- ping answers -----------------------------------------------------------------------


def test_unsent_ping_answers_are_capped_and_counted() -> None:
    core = responder(YamuxConfig(ping_backlog=4))
    core.receive_data(b"".join(frame(PING, SYN, 0, n) for n in range(10)), 0.0)
    assert core.dropped_pongs == 6
    assert core.data_to_send(control=False) == []
    assert parse_frames(core.take_control()) == [(PING, ACK, 0, n, b"") for n in range(4)]
    assert not core.has_control
    core.receive_data(frame(PING, SYN, 0, 77), 0.0)  # room again once taken
    assert sent(core) == [(PING, ACK, 0, 77, b"")]
    assert core.dropped_pongs == 6


def test_control_frames_stay_out_of_the_ordered_output() -> None:
    core = initiator()
    stream = core.open_stream()
    core.receive_data(frame(PING, SYN, 0, 5), 0.0)
    core.ping(0.0)
    assert core.has_control
    assert parse_frames(b"".join(core.data_to_send(control=False))) == [(WU, SYN, 1, 0, b"")]
    core.send_data(stream, memoryview(b"abc"))
    assert core.data_to_send(control=False) != []
    assert parse_frames(core.take_control()) == [(PING, SYN, 0, 1, b""), (PING, ACK, 0, 5, b"")]


# ---- keepalive and write timers ---------------------------------------------------------


def test_ping_deadline_counts_from_the_write_and_from_the_last_bytes() -> None:
    config = YamuxConfig(keepalive_interval=None, keepalive_timeout=10.0)
    core = YamuxCore(config, role=Role.INITIATOR, now=0.0)
    assert core.get_timer() == 10.0
    core.take_control(4.0)  # the start ping reaches the transport only at 4 s
    assert core.get_timer() == 14.0
    core.handle_timer(13.9)
    assert core.terminated is None
    core.receive_data(frame(WU, 0, 99, 0), 12.0)  # the peer is alive (a bulk transfer)
    assert core.get_timer() == 22.0
    core.handle_timer(21.0)
    assert core.terminated is None
    core.receive_data(frame(PING, ACK, 0, 0), 21.0)
    assert core.rtt == 17.0
    assert core.get_timer() is None


def test_silent_peer_is_detected_within_interval_plus_timeout() -> None:
    core = YamuxCore(role=Role.INITIATOR, now=0.0)  # defaults: 10 s + 10 s
    core.take_control(0.0)
    core.receive_data(frame(WU, SYN, 2, 0) + frame(PING, ACK, 0, 0), 0.1)
    assert core.accept_stream(0.1) is not None  # a stream stays open and idle
    now = 0.1
    while core.terminated is None:
        when = core.get_timer()
        assert when is not None
        now = when
        core.handle_timer(now)
        core.take_control(now)
    assert isinstance(core.terminated, KeepAliveTimeout)
    assert now - 0.1 <= 20.0


def test_one_keepalive_ping_at_a_time() -> None:
    config = YamuxConfig(keepalive_interval=5.0, keepalive_timeout=20.0)
    core = YamuxCore(config, role=Role.INITIATOR, now=0.0)
    core.take_control(0.0)
    core.receive_data(frame(DATA, 0, 99, 0), 4.0)
    core.handle_timer(5.0)  # the start ping is still unanswered: no second ping
    assert not core.has_control
    assert core.get_timer() == 10.0
    core.receive_data(frame(PING, ACK, 0, 0), 6.0)
    core.handle_timer(10.0)
    assert parse_frames(core.take_control(10.0)) == [(PING, SYN, 0, 1, b"")]


def test_write_timeout() -> None:
    core = initiator(YamuxConfig(keepalive_interval=None, write_timeout=3.0))
    core.receive_data(frame(PING, ACK, 0, 0), 0.0)
    assert core.get_timer() is None
    core.write_started(1.0)
    assert core.timer_dirty
    assert core.get_timer() == 4.0
    assert not core.timer_dirty
    core.write_finished()
    core.handle_timer(4.0)
    assert core.terminated is None
    core.write_started(5.0)
    core.handle_timer(7.9)
    assert core.terminated is None
    core.handle_timer(8.0)
    assert isinstance(core.terminated, WriteTimeout)


# ---- refused SYNs -----------------------------------------------------------------------


def test_syn_after_the_peers_go_away_is_reset_without_window() -> None:
    budget = CountingBudget()
    core = responder(memory=budget)
    core.receive_data(frame(GO_AWAY, 0, 0, 0) + frame(DATA, SYN, 1, 100), 0.0)
    assert sent(core) == [(WU, RST, 1, 0, b"")]
    assert core.num_streams == 0
    assert core.pending_accepts == 0
    assert not any(isinstance(event, InboundStreamOpened) for event in core.next_events())
    assert budget.reserved == 0


# ---- stream release ---------------------------------------------------------------------


def test_closed_stream_is_reset_and_released_after_the_close_timeout() -> None:
    config = YamuxConfig(max_streams=4, keepalive_interval=None, stream_close_timeout=30.0)
    core = initiator(config)
    core.receive_data(frame(PING, ACK, 0, 0), 0.0)
    streams = [core.open_stream() for _ in range(4)]
    core.receive_data(b"".join(frame(WU, ACK, s.stream_id, 0) for s in streams), 0.0)
    core.data_to_send()
    core.next_events()
    for index, stream in enumerate(streams):
        core.close_stream(stream, float(index))
    assert [f[:3] for f in sent(core)] == [(WU, FIN, s.stream_id) for s in streams]
    assert core.num_streams == 4
    assert core.num_open_streams == 0  # lingering streams do not hold max_streams slots
    core.receive_data(frame(WU, FIN, 1, 0), 5.0)  # the first one finishes in time
    assert streams[0].forgotten
    assert core.get_timer() == 31.0
    core.handle_timer(31.0)
    assert sent(core) == [(WU, RST, 3, 0, b"")]
    assert streams[1].forgotten
    assert not streams[2].forgotten
    core.handle_timer(33.0)
    assert sent(core) == [(WU, RST, 5, 0, b""), (WU, RST, 7, 0, b"")]
    closed = [e for e in core.next_events() if isinstance(e, StreamClosed)]
    assert closed == [StreamClosed(1), StreamClosed(3), StreamClosed(5), StreamClosed(7)]
    assert core.num_streams == 0
    assert core.get_timer() is None
    core.open_stream()


def test_lingering_streams_are_bounded_and_free_their_windows() -> None:
    budget = CountingBudget()
    config = YamuxConfig(max_streams=2, keepalive_interval=None, stream_close_timeout=30.0)
    core = responder(config, memory=budget)
    core.receive_data(frame(PING, ACK, 0, 0), 0.0)
    for sid in (1, 3, 5):
        core.receive_data(frame(WU, SYN, sid, 0), 0.0)
        stream = core.accept_stream(0.0)
        assert stream is not None
        core.send_eof(stream)
        core.close_stream(stream, 0.0)  # answered and closed; the peer never finishes
    assert budget.reserved == 0
    assert core.num_open_streams == 0
    # the third closed stream pushed the oldest lingering one out with a reset
    assert (WU, RST, 1, 0, b"") in sent(core)
    assert core.num_streams == 2


def test_timer_is_marked_dirty_by_an_earlier_close_deadline() -> None:
    core = initiator(YamuxConfig(stream_close_timeout=1.0))
    stream = core.open_stream()
    assert core.get_timer() == 10.0
    core.close_stream(stream, 0.0)
    assert core.timer_dirty
    assert core.get_timer() == 1.0


@pytest.mark.parametrize(
    "order", ["fin-then-eof", "eof-then-fin", "fin-then-close", "close-then-fin"]
)
def test_stream_finished_by_both_sides_is_released_at_once(order: str) -> None:
    core = responder(YamuxConfig(keepalive_interval=None))
    core.receive_data(frame(PING, ACK, 0, 0) + frame(WU, SYN, 1, 0), 0.0)
    stream = core.accept_stream(0.0)
    assert stream is not None
    local = core.send_eof if order.endswith("eof") or order.startswith("eof") else core.close_stream
    if order.startswith("fin"):
        core.receive_data(frame(DATA, FIN, 1, 0), 0.0)
        assert not stream.forgotten
        local(stream)
    else:
        local(stream)
        assert not stream.forgotten
        core.receive_data(frame(WU, FIN, 1, 0), 0.0)
    assert stream.forgotten
    assert core.num_streams == 0
    assert core.get_timer() is None  # no close deadline left behind


# ---- memory -----------------------------------------------------------------------------


def test_windows_are_reserved_and_all_released() -> None:
    budget = CountingBudget()
    config = YamuxConfig(initial_window=512 * KiB)
    core = responder(config, memory=budget)
    core.receive_data(frame(PING, ACK, 0, 0), 0.0)
    core.rtt = 1.0
    core.receive_data(frame(WU, SYN, 1, 0) + frame(WU, SYN, 3, 0) + frame(WU, SYN, 5, 0), 0.0)
    assert budget.reserved == 3 * 512 * KiB
    first = core.accept_stream(0.0)
    assert first is not None
    core.receive_data(frame(DATA, 0, 1, 400 * KiB), 0.0)
    assert len(core.read(first, 400 * KiB, 0.1)) == 400 * KiB  # fast reads: the window doubles
    assert first.recv_max == 1024 * KiB
    assert budget.reserved == 3 * 512 * KiB + 512 * KiB
    core.receive_data(frame(WU, RST, 3, 0), 0.0)  # reset by the peer
    core.close_stream(first)
    core.receive_data(frame(WU, FIN, 1, 0), 0.0)  # finished by both
    assert budget.reserved == 512 * KiB
    core.receive_data(frame(WU, SYN, 7, 0), 0.0)
    core.close(0)  # termination releases the rest
    assert budget.reserved == 0
    assert budget.peak == 4 * 512 * KiB


def test_close_timeout_and_local_reset_release_memory() -> None:
    budget = CountingBudget()
    core = initiator(YamuxConfig(stream_close_timeout=5.0), memory=budget)
    closing = core.open_stream()
    reset = core.open_stream()
    assert budget.reserved == 2 * WINDOW
    core.reset_stream(reset)
    assert budget.reserved == WINDOW
    core.close_stream(closing, 0.0)  # lingering until the peer's FIN: no window kept
    assert budget.reserved == 0
    core.handle_timer(5.0)
    assert closing.forgotten


def test_refused_reservations() -> None:
    budget = CountingBudget(limit=WINDOW + 100 * KiB)
    core = responder(memory=budget)
    core.receive_data(frame(PING, ACK, 0, 0), 0.0)
    core.rtt = 1.0
    core.receive_data(frame(WU, SYN, 1, 0) + frame(WU, SYN, 3, 0), 0.0)
    assert sent(core) == [(WU, RST, 3, 0, b"")]  # no memory for the second window
    assert core.num_streams == 1
    with pytest.raises(LimitExceeded) as info:
        core.open_stream()
    assert info.value.limit == "memory"
    stream = core.accept_stream(0.0)
    assert stream is not None
    core.data_to_send()
    core.receive_data(frame(DATA, 0, 1, 200 * KiB), 0.0)
    core.read(stream, 200 * KiB, 0.1)  # growth refused: the window stays, credit still flows
    assert stream.recv_max == WINDOW
    assert sent(core) == [(WU, 0, 1, 200 * KiB, b"")]
    assert budget.reserved == WINDOW
    core.reset_stream(stream)
    assert budget.reserved == 0
    core.receive_data(frame(WU, SYN, 5, 0), 0.0)
    assert core.num_streams == 1
