"""WebSocketStream passes trio's stream checks over lockstep streams, clogged.

Over real sockets, with and without TLS, it is checked by the transport suite
(tests/conformance/test_transport.py).
"""

from __future__ import annotations

import trio
import trio.testing

from tests.helpers.websocket import ws_lockstep_pair


async def test_half_closeable_over_lockstep_clogged() -> None:
    await trio.testing.check_half_closeable_stream(ws_lockstep_pair, ws_lockstep_pair)
