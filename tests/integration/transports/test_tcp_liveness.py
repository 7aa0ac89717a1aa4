"""TcpConfig's dead-peer options: keepalive probes and TCP_USER_TIMEOUT on every socket."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import trio

from p2pstack.errors import InvalidConfigError
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.tcp import TcpConfig, tcp
from p2pstack.transports.tcp_stream import TcpStream, set_liveness_options


async def _dial_and_accept(config: TcpConfig) -> tuple[socket.socket, socket.socket]:
    transport = tcp(config)
    listener = await transport.listen(Multiaddr("/ip4/127.0.0.1/tcp/0"))
    try:
        dialled = await transport.dial(listener.listen_addrs[0])
        accepted = await listener.accept()
    finally:
        await listener.aclose()
    streams = (dialled.stream, accepted.stream)
    assert all(isinstance(s, TcpStream) for s in streams)
    return dialled.stream.socket, accepted.stream.socket  # type: ignore[attr-defined]


def _options(sock: socket.socket) -> tuple[int, int, int, int, int]:
    return (
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
    )


async def test_defaults_are_set_on_dialled_and_accepted_sockets() -> None:
    with trio.fail_after(10):
        socks = await _dial_and_accept(TcpConfig())
    try:
        for sock in socks:
            assert _options(sock) == (1, 15, 5, 3, 30_000)
    finally:
        for sock in socks:
            sock.close()


async def test_custom_and_disabled_options() -> None:
    config = TcpConfig(keepalive_idle=7, keepalive_interval=2, keepalive_count=4, user_timeout=2.5)
    with trio.fail_after(10):
        socks = await _dial_and_accept(config)
    for sock in socks:
        assert _options(sock) == (1, 7, 2, 4, 2500)
        sock.close()
    with trio.fail_after(10):
        socks = await _dial_and_accept(TcpConfig(keepalive_idle=None, user_timeout=None))
    for sock in socks:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 0
        sock.close()


def test_options_on_a_socket_without_tcp_are_skipped() -> None:
    left, right = socket.socketpair()
    try:
        set_liveness_options(
            left, keepalive_idle=5, keepalive_interval=1, keepalive_count=1, user_timeout=1.0
        )
    finally:
        left.close()
        right.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"keepalive_idle": 0},
        {"keepalive_idle": 1.5},
        {"keepalive_interval": 0},
        {"keepalive_interval": None},
        {"keepalive_count": 0},
        {"keepalive_count": 128},
        {"user_timeout": 0},
        {"user_timeout": True},
    ],
)
def test_invalid_liveness_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidConfigError, match=next(iter(kwargs))):
        TcpConfig(**kwargs)
