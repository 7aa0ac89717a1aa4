"""Yamux configuration."""

from __future__ import annotations

from dataclasses import dataclass

from p2pstack.errors import InvalidConfigError
from p2pstack.muxers.yamux.frames import DEFAULT_WINDOW, MAX_U32

KiB = 1024
MiB = 1024 * KiB


def _check_int(name: str, value: object, low: int, high: int = MAX_U32) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidConfigError(f"YamuxConfig.{name} must be an int, not {value!r}")
    if not low <= value <= high:
        raise InvalidConfigError(f"YamuxConfig.{name} must be in [{low}, {high}], not {value}")


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidConfigError(f"YamuxConfig.{name} must be a positive number, not {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class YamuxConfig:
    """Settings of a Yamux session; validated on construction (``InvalidConfigError``).

    Attributes:
        initial_window: receive window of each new stream (>= 256 KiB, the spec default;
            any extra is announced with the SYN or ACK).
        max_window: ceiling of a stream's receive window under auto-tuning. Set it equal to
            ``initial_window`` to disable auto-tuning.
        connection_window_budget: bytes of auto-tuned window growth (above
            ``initial_window``) allowed across all streams of one session (64 MiB: the
            bandwidth-delay product of 5 Gbit/s at 100 ms, so one fast stream still reaches
            ``max_window``; 256 MiB let a peer that stops reading make us hold that much per
            connection). Every granted byte is also reserved from the session's memory
            budget, which may refuse growth sooner.
        max_streams: concurrent streams (both directions). Inbound SYNs beyond it are reset;
            ``open_stream`` raises ``LimitExceeded``. Stay below 512 for rust-yamux peers.
        accept_backlog: inbound streams waiting for ``accept_stream`` (overflow is reset),
            and outbound streams waiting for the peer's ACK (``open_stream`` waits).
        max_frame_size: largest Data payload we send in one frame.
        keepalive_interval: seconds between our keepalive pings (they also refresh the RTT);
            ``None`` disables them (the RTT ping at session start is always sent). At most
            one keepalive ping is outstanding.
        keepalive_timeout: the session ends (``KeepAliveTimeout``) when a ping of ours is
            unanswered and nothing at all has arrived from the peer for this long since it
            was handed to the transport (bytes still arriving prove the peer alive while a
            bulk transfer delays its answer). With the defaults a peer that vanishes
            silently is detected within ``keepalive_interval + keepalive_timeout`` = 20 s,
            streams open or not; go-yamux needs 30 + 10 s.
        ping_backlog: answers to the peer's pings waiting to be written. Pings beyond it
            are not answered (counted in ``YamuxCore.dropped_pongs``), so a peer that
            pings and never reads cannot grow our output (go-yamux: 32).
        write_timeout: a write to the transport (of at most 1 MiB) that does not finish
            within this many seconds ends the session (``WriteTimeout``): the peer stopped
            reading. It implies a minimum rate of about 35 KB/s while our output is backed
            up (go-yamux's ConnectionWriteTimeout is 10 s per frame). A vanished peer is
            released by the keepalive first (20 s), even while a write is stuck.
        stream_close_timeout: after we closed a stream (FIN sent), the peer has this long
            to finish its side; then the stream is reset and its ``max_streams`` slot and
            window memory are released. 30 s: data the peer sends after our close is
            reset anyway, so waiting only lets its FIN arrive gracefully, even behind a
            few MiB of our queued output on a slow link.
    """

    initial_window: int = DEFAULT_WINDOW
    max_window: int = 16 * MiB
    connection_window_budget: int = 64 * MiB
    max_streams: int = 256
    accept_backlog: int = 256
    max_frame_size: int = 64 * KiB
    keepalive_interval: float | None = 10.0
    keepalive_timeout: float = 10.0
    ping_backlog: int = 32
    write_timeout: float = 30.0
    stream_close_timeout: float = 30.0

    def __post_init__(self) -> None:
        _check_int("initial_window", self.initial_window, DEFAULT_WINDOW)
        _check_int("max_window", self.max_window, self.initial_window)
        _check_int("connection_window_budget", self.connection_window_budget, 0, 2**63)
        _check_int("max_streams", self.max_streams, 1)
        _check_int("accept_backlog", self.accept_backlog, 1)
        _check_int("max_frame_size", self.max_frame_size, 1, 16 * MiB)
        if self.keepalive_interval is not None:
            _check_seconds("keepalive_interval", self.keepalive_interval)
        _check_seconds("keepalive_timeout", self.keepalive_timeout)
        _check_int("ping_backlog", self.ping_backlog, 1, 4096)
        _check_seconds("write_timeout", self.write_timeout)
        _check_seconds("stream_close_timeout", self.stream_close_timeout)
