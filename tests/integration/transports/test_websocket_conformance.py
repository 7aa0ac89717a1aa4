"""WebSocketStream passes trio's own stream conformance checks (real sockets, TLS, lockstep)."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from tests.helpers.websocket import (
    make_certificate,
    tls_transport,
    ws_lockstep_pair,
    ws_socket_pair,
)


async def test_half_closeable_over_tcp() -> None:
    await trio.testing.check_half_closeable_stream(ws_socket_pair, None)


async def test_half_closeable_over_lockstep_clogged() -> None:
    await trio.testing.check_half_closeable_stream(ws_lockstep_pair, ws_lockstep_pair)


async def test_half_closeable_over_tls(tmp_path: Path) -> None:
    transport = tls_transport(make_certificate(tmp_path))

    async def maker():  # type: ignore[no-untyped-def]
        return await ws_socket_pair(transport, "/ip4/127.0.0.1/tcp/0/tls/ws")

    await trio.testing.check_half_closeable_stream(maker, None)
