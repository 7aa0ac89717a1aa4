"""Yamux configuration."""

from __future__ import annotations

from dataclasses import dataclass

from stack.errors import InvalidConfigError

from .frames import DEFAULT_WINDOW, MAX_U32

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
            ``initial_window``) allowed across all streams of one session.
        max_streams: concurrent streams (both directions). Inbound SYNs beyond it are reset;
            ``open_stream`` raises ``LimitExceeded``. Stay below 512 for rust-yamux peers.
        accept_backlog: inbound streams waiting for ``accept_stream`` (overflow is reset),
            and outbound streams waiting for the peer's ACK (``open_stream`` waits).
        max_frame_size: largest Data payload we send in one frame.
        keepalive_interval: seconds between our pings (keepalive and RTT refresh);
            ``None`` disables them (the RTT ping at session start is always sent).
        keepalive_timeout: a ping unanswered for this long ends the session.
    """

    initial_window: int = DEFAULT_WINDOW
    max_window: int = 16 * MiB
    connection_window_budget: int = 256 * MiB
    max_streams: int = 256
    accept_backlog: int = 256
    max_frame_size: int = 64 * KiB
    keepalive_interval: float | None = 30.0
    keepalive_timeout: float = 10.0

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
