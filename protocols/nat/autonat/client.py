"""The AutoNAT client's requests (v2, else v1) and the v2 dial-back receiver.

A probe asks one server about one address and returns a :class:`Probe`: ``reachable`` is
True (the server reached us there), False (it tried and failed), or None (no verdict: the
server refused, rejected, failed internally, or a v2 dial back carried a nonce we did not
send: such an answer is discarded, as the spec says).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Final

import trio

from p2pstack.errors import StackError
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.host.netstream import NetStream
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat.autonat import v1_messages as v1, v2_messages as v2
from p2pstack.protocols.nat.autonat.config import AutoNATConfig
from p2pstack.protocols.nat.autonat.errors import AutoNATError
from p2pstack.varint import length_prefixed

logger: Final = logging.getLogger("p2pstack.autonat")

_FAILURES: Final = (
    StackError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class Probe:
    """One server's answer about one address (see the module docstring)."""

    addr: Multiaddr
    server: PeerId
    reachable: bool | None
    reason: str
    version: int
    answered: bool = True
    """False when the request itself failed (stream, connection, timeout): worth a retry."""


class DialBackReceiver:
    """Serves ``/libp2p/autonat/2/dial-back``: matches each nonce to the request awaiting it.

    A dial back with a nonce we are not waiting for is answered with a reset and counted in
    ``unknown_nonces``.
    """

    def __init__(self) -> None:
        self._pending: dict[int, trio.Event] = {}
        self.unknown_nonces = 0

    def expect(self) -> tuple[int, trio.Event]:
        """A fresh nonce and the event set when it arrives."""
        nonce = secrets.randbits(64)
        while nonce in self._pending:
            nonce = secrets.randbits(64)
        event = self._pending[nonce] = trio.Event()
        return nonce, event

    def forget(self, nonce: int) -> None:
        """Stop waiting for ``nonce``."""
        self._pending.pop(nonce, None)

    async def handle(self, stream: NetStream) -> None:
        """Read one ``DialBack``; answer ``OK`` if its nonce is awaited, else reset."""
        try:
            with trio.fail_after(10):
                nonce = v2.decode_dial_back(
                    await stream.receive_length_prefixed(v2.MAX_MESSAGE_SIZE)
                )
                event = self._pending.get(nonce)
                if event is None:
                    self.unknown_nonces += 1
                    logger.debug("AutoNAT dial back from %s: unknown nonce", stream.remote_peer)
                    await stream.reset()
                    return
                event.set()
                await stream.send_all(length_prefixed(v2.encode_dial_back_response()))
                await stream.send_eof()
        except _FAILURES as exc:
            logger.debug("AutoNAT dial back from %s: %s", stream.remote_peer.short(), exc)
            await stream.reset()


async def probe_v2(
    conn: Connection,
    addr: Multiaddr,
    config: AutoNATConfig,
    receiver: DialBackReceiver,
) -> Probe:
    """Ask the server on ``conn`` to dial ``addr`` (v2); pay the dial data if asked and
    affordable. Raises nothing but cancellation: failures are a ``reachable=None`` probe."""
    nonce, arrived = receiver.expect()

    def probe(reachable: bool | None, reason: str, answered: bool = True) -> Probe:
        return Probe(addr, conn.peer_id, reachable, reason, 2, answered)

    try:
        with trio.fail_after(config.request_timeout):
            stream = await conn.new_stream(v2.DIAL_REQUEST_PROTOCOL)
            try:
                request = v2.DialRequest((addr.without_peer_id(),), nonce)
                await stream.send_all(length_prefixed(v2.encode_v2(request)))
                response = await _await_response(stream, config)
            finally:
                await stream.aclose()
    except _FAILURES as exc:
        return probe(None, f"request failed: {exc}", answered=False)
    finally:
        receiver.forget(nonce)
    if response is None:
        return probe(None, "dial data refused (cost above max_dial_data)")
    if response.status is not v2.ResponseStatus.OK:
        return probe(None, response.status.name)
    if response.addr_idx != 0:
        return probe(None, f"the server names address {response.addr_idx} of 1")
    if response.dial_status is v2.DialStatus.OK:
        if not arrived.is_set():
            return probe(None, "dial back OK claimed, but our nonce never arrived")
        return probe(True, "dialled back with our nonce")
    if response.dial_status is v2.DialStatus.E_DIAL_ERROR:
        return probe(False, "the server could not dial it")
    return probe(None, response.dial_status.name)


async def _await_response(stream: NetStream, config: AutoNATConfig) -> v2.DialResponse | None:
    """Read until the ``DialResponse``; answer one ``DialDataRequest`` (None if refused)."""
    paid = False
    while True:
        message = v2.decode_v2(await stream.receive_length_prefixed(v2.MAX_MESSAGE_SIZE))
        if isinstance(message, v2.DialResponse):
            return message
        if not isinstance(message, v2.DialDataRequest) or paid:
            raise AutoNATError(f"unexpected {type(message).__name__} from the server")
        if message.addr_idx != 0 or message.num_bytes > config.max_dial_data:
            await stream.reset()
            return None
        paid = True
        chunk = length_prefixed(v2.encode_v2(v2.DialDataResponse(v2.MAX_DATA_CHUNK)))
        for _ in range(-(-message.num_bytes // v2.MAX_DATA_CHUNK)):
            await stream.send_all(chunk)


async def probe_v1(
    conn: Connection, node: NodeContext, addr: Multiaddr, config: AutoNATConfig
) -> Probe:
    """Ask the server on ``conn`` to dial ``addr`` (v1, one address per request)."""

    def probe(reachable: bool | None, reason: str, answered: bool = True) -> Probe:
        return Probe(addr, conn.peer_id, reachable, reason, 1, answered)

    try:
        with trio.fail_after(config.request_timeout):
            stream = await conn.new_stream(v1.PROTOCOL_V1)
            try:
                await stream.send_all(length_prefixed(v1.encode_v1_dial(node.peer_id, [addr])))
                response = v1.decode_v1_response(
                    await stream.receive_length_prefixed(v1.MAX_MESSAGE_SIZE)
                )
            finally:
                await stream.aclose()
    except _FAILURES as exc:
        return probe(None, f"request failed: {exc}", answered=False)
    if response.status is v1.V1Status.OK:
        return probe(True, f"dialled back at {response.addr}")
    if response.status is v1.V1Status.E_DIAL_ERROR:
        return probe(False, response.text or "dial error")
    return probe(None, f"{response.status.name}: {response.text}")
