"""The sans-IO core: stream lifecycle, flow control, limits, ping and GoAway (no trio)."""

from __future__ import annotations

import pytest

from p2pstack.errors import LimitExceeded
from p2pstack.muxers.yamux import YamuxConfig, YamuxCore
from p2pstack.muxers.yamux.core import WRITE_FAILURE_GRACE
from p2pstack.muxers.yamux.errors import (
    ConnectionLost,
    KeepAliveTimeout,
    RemoteGoAway,
    SessionClosed,
    StreamIdError,
    WindowExceededError,
    YamuxProtocolError,
)
from p2pstack.muxers.yamux.events import (
    ConnectionTerminated,
    DataReceived,
    GoAwayReceived,
    InboundStreamOpened,
    PingAcknowledged,
    StreamClosed,
    StreamEndedByPeer,
    StreamEstablished,
    StreamResetByPeer,
    WindowUpdated,
)
from p2pstack.muxers.yamux.stream_state import StreamState
from p2pstack.role import Role
from tests.helpers.yamux_core import (
    ACK,
    DATA,
    FIN,
    GO_AWAY,
    PING,
    RST,
    SYN,
    WU,
    CorePair,
    frame,
    sent,
    take_ping,
)

KiB = 1024
WINDOW = 256 * KiB


def responder(config: YamuxConfig | None = None) -> YamuxCore:
    core = YamuxCore(config, role=Role.RESPONDER)
    take_ping(core)
    return core


def initiator(config: YamuxConfig | None = None) -> YamuxCore:
    core = YamuxCore(config, role=Role.INITIATOR)
    take_ping(core)
    return core


def test_open_accept_exchange_and_half_close() -> None:
    pair = CorePair()
    pair.settle()
    c = pair.client.open_stream()
    assert c.stream_id == 1
    events = pair.transfer(pair.client, pair.server)
    assert events == [InboundStreamOpened(1)]
    s = pair.server.accept_stream(0.0)
    assert s is not None
    assert sent(pair.server) == [(WU, ACK, 1, 0, b"")]
    pair.server.send_data(s, memoryview(b"hi"))
    events = pair.transfer(pair.server, pair.client)
    assert events == [StreamEstablished(1), DataReceived(1, 2)]
    assert pair.client.read(c, 10, 0.0) == b"hi"
    pair.client.send_eof(c)
    pair.client.send_eof(c)  # once only
    assert sent(pair.client) == [(WU, FIN, 1, 0, b"")]


def test_stream_ids_by_role() -> None:
    client, server = initiator(), responder()
    assert [client.open_stream().stream_id for _ in range(3)] == [1, 3, 5]
    assert [server.open_stream().stream_id for _ in range(3)] == [2, 4, 6]


def test_fin_is_own_frame_after_data_and_frames_are_capped() -> None:
    core = initiator(YamuxConfig(max_frame_size=64 * KiB))
    stream = core.open_stream()
    core.data_to_send()
    assert core.send_data(stream, memoryview(bytes(200 * KiB))) == 200 * KiB
    core.send_eof(stream)
    frames = sent(core)
    assert [(f[0], f[1], f[3]) for f in frames] == [
        (DATA, 0, 65536),
        (DATA, 0, 65536),
        (DATA, 0, 65536),
        (DATA, 0, 8192),
        (WU, FIN, 0),
    ]
    with pytest.raises(YamuxProtocolError) as info:
        core.send_data(stream, memoryview(b"x"))
    assert not info.value.remote


def test_send_window_limits_data() -> None:
    core = initiator()
    stream = core.open_stream()
    assert core.send_data(stream, memoryview(bytes(300 * KiB))) == WINDOW
    assert core.send_data(stream, memoryview(b"more")) == 0
    core.receive_data(frame(WU, ACK, 1, 1000), 0.0)
    assert core.next_events() == [StreamEstablished(1), WindowUpdated(1)]
    assert core.send_data(stream, memoryview(bytes(5000))) == 1000


def test_window_credit_follows_application_reads() -> None:
    core = responder()
    core.receive_data(frame(WU, SYN, 1, 0) + frame(DATA, 0, 1, 200 * KiB), 0.0)
    stream = core.accept_stream(0.0)
    assert stream is not None
    core.data_to_send()
    assert len(core.read(stream, 100 * KiB, 0.0)) == 100 * KiB
    assert sent(core) == []  # less than half the window owed
    assert len(core.read(stream, 30 * KiB, 0.0)) == 30 * KiB
    assert sent(core) == [(WU, 0, 1, 130 * KiB, b"")]
    assert stream.recv_window == WINDOW - 70 * KiB


def test_window_overrun_is_fatal() -> None:
    core = responder()
    core.receive_data(frame(WU, SYN, 1, 0), 0.0)
    with pytest.raises(WindowExceededError):
        core.receive_data(frame(DATA, 0, 1, WINDOW + 1), 0.0)
    assert sent(core) == [(GO_AWAY, 0, 0, 1, b"")]
    assert isinstance(core.terminated, WindowExceededError)
    assert isinstance(core.next_events()[-1], ConnectionTerminated)
    core.receive_data(frame(PING, SYN, 0, 1), 0.0)  # ignored once terminated
    assert sent(core) == []


@pytest.mark.parametrize(
    "raw",
    [
        frame(WU, SYN, 1, 0),  # the initiator's parity arriving at the initiator
        frame(WU, SYN, 0, 0),
        frame(WU, SYN, 2, 0) + frame(DATA, SYN, 2, 1),  # SYN for a live stream
        b"\x01" + bytes(11),
        b"\x00\x07" + bytes(10),
    ],
)
def test_fatal_violations_send_go_away_protocol_error(raw: bytes) -> None:
    core = initiator()
    with pytest.raises(YamuxProtocolError) as info:
        core.receive_data(raw, 0.0)
    assert info.value.error_code == 1
    assert sent(core)[-1] == (GO_AWAY, 0, 0, 1, b"")
    assert core.terminated is info.value


def test_wrong_parity_message() -> None:
    with pytest.raises(StreamIdError, match="parity"):
        responder().receive_data(frame(WU, SYN, 2, 0), 0.0)


def test_frames_for_unknown_streams_are_ignored() -> None:
    core = responder()
    payload = frame(DATA, 0, 7, 5000) + frame(WU, 0, 9, 10) + frame(WU, FIN, 11, 0)
    payload += frame(WU, RST, 13, 0) + frame(DATA, FIN, 15, 3)
    core.receive_data(payload[:20], 0.0)  # split inside a drained payload
    core.receive_data(payload[20:], 0.0)
    assert core.next_events() == []
    assert sent(core) == []
    assert core.terminated is None


def test_ping_is_answered_with_same_opaque_and_unsolicited_acks_ignored() -> None:
    core = responder()
    core.receive_data(frame(PING, SYN, 0, 0xDEADBEEF), 0.0)
    assert sent(core) == [(PING, ACK, 0, 0xDEADBEEF, b"")]
    core.receive_data(frame(PING, ACK, 0, 12345), 0.0)
    assert core.next_events() == []
    assert sent(core) == []


def test_rtt_from_own_ping() -> None:
    core = YamuxCore(role=Role.INITIATOR, now=1.0)
    assert sent(core) == [(PING, SYN, 0, 0, b"")]
    core.receive_data(frame(PING, ACK, 0, 0), 1.25)
    assert core.next_events() == [PingAcknowledged(0, 0.25)]
    assert core.rtt == 0.25
    opaque = core.ping(2.0)
    assert opaque == 1
    core.receive_data(frame(PING, ACK, 0, 1), 2.5)
    assert core.rtt == 0.5


def test_go_away_normal_stops_new_streams_only() -> None:
    core = initiator()
    stream = core.open_stream()
    core.receive_data(frame(WU, ACK, 1, 0) + frame(GO_AWAY, 0, 0, 0), 0.0)
    assert GoAwayReceived(0) in core.next_events()
    with pytest.raises(SessionClosed):
        core.open_stream()
    assert core.terminated is None
    core.data_to_send()
    assert core.send_data(stream, memoryview(b"still fine")) == 10


def test_go_away_error_ends_session_without_reply() -> None:
    core = initiator()
    core.receive_data(frame(GO_AWAY, 0, 0, 2), 0.0)
    assert isinstance(core.terminated, RemoteGoAway)
    assert core.terminated.code == 2
    assert sent(core) == []


def test_syn_after_our_go_away_is_reset() -> None:
    core = responder()
    core.go_away()
    assert sent(core) == [(GO_AWAY, 0, 0, 0, b"")]
    core.receive_data(frame(WU, SYN, 1, 0) + frame(DATA, 0, 1, 10), 0.0)
    assert sent(core) == [(WU, RST, 1, 0, b"")]
    assert core.num_streams == 0
    with pytest.raises(SessionClosed):
        core.open_stream()


def test_close_sends_go_away_and_terminates() -> None:
    core = initiator()
    core.close()
    assert sent(core) == [(GO_AWAY, 0, 0, 0, b"")]
    assert isinstance(core.terminated, SessionClosed)
    core.close()
    assert sent(core) == []


def test_eof_terminates() -> None:
    core = initiator()
    core.receive_eof()
    assert isinstance(core.terminated, ConnectionLost)
    assert core.get_timer() is None


def test_after_a_write_failure_what_was_received_is_still_delivered() -> None:
    core = responder()
    core.receive_data(frame(DATA, SYN, 1, 3), 0.0)
    stream = core.accept_stream(0.0)
    assert stream is not None
    core.write_failed(BrokenPipeError("reset"), now=1.0)
    assert core.terminated is None
    assert core.get_timer() == 1.0 + WRITE_FAILURE_GRACE
    with pytest.raises(SessionClosed):
        core.open_stream()
    core.receive_data(frame(DATA, FIN, 1, 2), 1.5)  # sent before the reset, read after it
    assert stream.buffered == 5
    assert stream.fin_received
    core.connection_lost(ConnectionResetError("reset"))  # the read side ends: terminated
    assert core.terminated is core.write_error
    assert isinstance(core.terminated, ConnectionLost)
    assert isinstance(core.terminated.__cause__, BrokenPipeError)


def test_after_a_write_failure_the_session_ends_within_the_grace() -> None:
    core = responder()
    core.write_failed(BrokenPipeError("reset"), now=1.0)
    core.handle_timer(1.0 + WRITE_FAILURE_GRACE / 2)
    assert core.terminated is None
    core.handle_timer(1.0 + WRITE_FAILURE_GRACE)
    assert isinstance(core.terminated, ConnectionLost)
    assert core.get_timer() is None


def test_inbound_max_streams_resets_extra_syns() -> None:
    core = responder(YamuxConfig(max_streams=2))
    core.receive_data(frame(WU, SYN, 1, 0) + frame(WU, SYN, 3, 0) + frame(WU, SYN, 5, 0), 0.0)
    assert sent(core) == [(WU, RST, 5, 0, b"")]
    assert core.num_streams == 2


def test_local_max_streams_is_reported_as_local_limit() -> None:
    core = initiator(YamuxConfig(max_streams=2))
    core.open_stream()
    core.open_stream()
    with pytest.raises(LimitExceeded, match="local yamux max_streams limit") as info:
        core.open_stream()
    assert info.value.local
    assert info.value.limit == "yamux.max_streams"


def test_accept_backlog_overflow_is_reset() -> None:
    core = responder(YamuxConfig(accept_backlog=2))
    core.receive_data(frame(WU, SYN, 1, 0) + frame(WU, SYN, 3, 0) + frame(WU, SYN, 5, 0), 0.0)
    assert sent(core) == [(WU, RST, 5, 0, b"")]
    assert core.pending_accepts == 2
    assert core.accept_stream(0.0) is not None
    core.receive_data(frame(WU, SYN, 7, 0), 0.0)
    assert core.pending_accepts == 2


def test_outbound_backlog_and_any_frame_establishes() -> None:
    core = initiator(YamuxConfig(accept_backlog=2))
    first = core.open_stream()
    core.open_stream()
    assert core.outbound_backlog_full
    with pytest.raises(LimitExceeded) as info:
        core.open_stream()
    assert info.value.limit == "yamux.accept_backlog"
    # go answers a SYN|FIN stream without ACK: any frame establishes the stream.
    core.receive_data(frame(WU, FIN, first.stream_id, 0), 0.0)
    assert core.next_events() == [StreamEstablished(1), StreamEndedByPeer(1)]
    assert not core.outbound_backlog_full
    assert first.state is StreamState.HALF_CLOSED_REMOTE
    core.receive_data(frame(WU, RST, 3, 0), 0.0)  # a reset also frees the slot
    assert core.next_events() == [StreamEstablished(3), StreamResetByPeer(3), StreamClosed(3)]


def test_ack_sent_exactly_once_and_never_by_opener() -> None:
    pair = CorePair()
    pair.settle()
    c = pair.client.open_stream()
    pair.client.send_data(c, memoryview(b"a" * 10))
    pair.transfer(pair.client, pair.server)
    s = pair.server.accept_stream(0.0)
    assert s is not None
    pair.server.send_data(s, memoryview(b"b" * 10))
    pair.server.send_eof(s)
    flags = [f[1] for f in sent(pair.server)]
    assert flags == [ACK, 0, FIN]
    pair.client.send_data(c, memoryview(b"c"))
    assert all(not f[1] & ACK for f in sent(pair.client))


def test_syn_and_ack_lengths_are_deltas() -> None:
    config = YamuxConfig(initial_window=512 * KiB, max_window=512 * KiB)
    core = responder(config)
    core.receive_data(frame(WU, SYN, 1, 1000), 0.0)
    stream = core.accept_stream(0.0)
    assert stream is not None
    assert stream.send_window == WINDOW + 1000
    assert sent(core) == [(WU, ACK, 1, 256 * KiB, b"")]
    assert stream.recv_window == 512 * KiB
    opener = initiator(config)
    opener.open_stream()
    assert sent(opener) == [(WU, SYN, 1, 256 * KiB, b"")]


def test_window_update_after_fin_is_applied() -> None:
    core = initiator()
    stream = core.open_stream()
    core.send_eof(stream)
    core.receive_data(frame(WU, ACK, 1, 0) + frame(WU, 0, 1, 500), 0.0)
    assert stream.send_window == WINDOW + 500
    core.receive_data(frame(WU, FIN, 1, 0), 0.0)
    assert stream.forgotten
    assert core.num_streams == 0


def test_close_with_remote_open_sends_fin_then_resets_late_data() -> None:
    core = responder()
    core.receive_data(frame(WU, SYN, 1, 0), 0.0)
    stream = core.accept_stream(0.0)
    assert stream is not None
    core.data_to_send()
    core.close_stream(stream)
    assert sent(core) == [(WU, FIN, 1, 0, b"")]
    core.receive_data(frame(DATA, 0, 1, 10), 0.0)
    assert sent(core) == [(WU, RST, 1, 0, b"")]
    core.receive_data(frame(DATA, 0, 1, 10), 0.0)  # forgotten: ignored, no second RST
    assert sent(core) == []


def test_close_with_unread_data_resets() -> None:
    core = responder()
    core.receive_data(frame(WU, SYN, 1, 0) + frame(DATA, 0, 1, 10), 0.0)
    stream = core.accept_stream(0.0)
    assert stream is not None
    core.data_to_send()
    core.close_stream(stream)
    assert sent(core) == [(WU, RST, 1, 0, b"")]
    assert stream.forgotten
    assert stream.buffered == 0


def test_close_after_remote_fin_is_graceful() -> None:
    core = responder()
    core.receive_data(frame(WU, SYN, 1, 0) + frame(DATA, FIN, 1, 3), 0.0)
    stream = core.accept_stream(0.0)
    assert stream is not None
    assert core.read(stream, 10, 0.0) == b"ddd"
    core.data_to_send()
    core.close_stream(stream)
    assert sent(core) == [(WU, FIN, 1, 0, b"")]
    assert stream.forgotten


def test_reset_is_seen_by_peer() -> None:
    pair = CorePair()
    pair.settle()
    c = pair.client.open_stream()
    pair.transfer(pair.client, pair.server)
    s = pair.server.accept_stream(0.0)
    assert s is not None
    pair.client.reset_stream(c)
    events = pair.transfer(pair.client, pair.server)
    assert events == [StreamResetByPeer(1), StreamClosed(1)]
    assert s.is_reset
    assert s.reset_by_peer
    assert pair.server.num_streams == 0


def test_keepalive_pings_and_timeout() -> None:
    core = YamuxCore(YamuxConfig(keepalive_interval=30.0), role=Role.INITIATOR, now=0.0)
    assert core.get_timer() == 10.0  # the start ping must be answered within 10 s
    core.receive_data(frame(PING, ACK, 0, 0), 0.5)
    assert core.get_timer() == 30.0
    core.data_to_send()
    core.handle_timer(29.0)
    assert sent(core) == []
    core.handle_timer(30.0)
    assert sent(core) == [(PING, SYN, 0, 1, b"")]
    assert core.get_timer() == 40.0
    core.handle_timer(40.0)
    assert isinstance(core.terminated, KeepAliveTimeout)
    assert core.get_timer() is None


def test_keepalive_disabled_keeps_start_ping_timeout() -> None:
    core = YamuxCore(YamuxConfig(keepalive_interval=None), role=Role.RESPONDER, now=5.0)
    assert core.get_timer() == 15.0
    core.receive_data(frame(PING, ACK, 0, 0), 6.0)
    assert core.get_timer() is None


def test_unanswered_start_ping_times_out() -> None:
    core = YamuxCore(role=Role.INITIATOR, now=0.0)
    core.handle_timer(10.0)
    assert isinstance(core.terminated, KeepAliveTimeout)
