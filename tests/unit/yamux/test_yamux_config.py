"""YamuxConfig defaults and validation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from p2pstack.errors import InvalidConfigError
from p2pstack.muxers.yamux import YamuxConfig


def test_defaults() -> None:
    config = YamuxConfig()
    assert config.initial_window == 256 * 1024
    assert config.max_window == 16 * 1024 * 1024
    assert config.connection_window_budget == 64 * 1024 * 1024
    assert config.max_streams == 256
    assert config.accept_backlog == 256
    assert config.max_frame_size == 64 * 1024
    assert config.keepalive_interval == 10.0
    assert config.keepalive_timeout == 10.0
    assert config.ping_backlog == 32
    assert config.write_timeout == 30.0
    assert config.stream_close_timeout == 30.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_streams = 3  # type: ignore[misc]


def test_keyword_only() -> None:
    with pytest.raises(TypeError):
        YamuxConfig(262144)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_window": 1024},
        {"initial_window": 2**32},
        {"max_window": 1024},
        {"initial_window": 1 << 20, "max_window": 1 << 19},
        {"connection_window_budget": -1},
        {"max_streams": 0},
        {"max_streams": True},
        {"accept_backlog": 0},
        {"max_frame_size": 0},
        {"max_frame_size": 1.5},
        {"keepalive_interval": 0},
        {"keepalive_interval": -3.0},
        {"keepalive_timeout": 0},
        {"keepalive_timeout": None},
        {"ping_backlog": 0},
        {"ping_backlog": 1.0},
        {"write_timeout": 0},
        {"write_timeout": None},
        {"stream_close_timeout": -1.0},
    ],
)
def test_invalid(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidConfigError) as info:
        YamuxConfig(**kwargs)
    assert isinstance(info.value, ValueError)
    assert next(iter(kwargs)) in str(info.value) or "max_window" in str(info.value)


def test_valid_variants() -> None:
    YamuxConfig(keepalive_interval=None)
    YamuxConfig(initial_window=1 << 20, max_window=1 << 20, max_frame_size=16384)
