"""The AutoNAT server (v1 and v2): dial a requester back on a fresh connection.

Every request is bounded: one message of at most a few kB, a deadline for the whole
exchange (``request`` + ``dial_timeout``), rate limits per peer and in total, and at most
``max_concurrent_dials`` dial-backs in flight; a refusal is a typed status on the wire.
The address rules are :mod:`~p2pstack.protocols.nat.autonat.policy`'s.
"""

from __future__ import annotations

import logging
from typing import Final

import trio

from p2pstack.errors import DialError, LimitExceeded, StackError
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.host.netstream import NetStream
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat.autonat import v1_messages as v1, v2_messages as v2
from p2pstack.protocols.nat.autonat.config import AutoNATConfig
from p2pstack.protocols.nat.autonat.errors import AutoNATError
from p2pstack.protocols.nat.autonat.policy import RequestLimiter, ip_versions, refusal, same_ip
from p2pstack.transports.tcp import ephemeral_port_dials
from p2pstack.varint import length_prefixed

logger: Final = logging.getLogger("p2pstack.autonat")

REQUEST_TIMEOUT: Final = 10.0
"""How long a requester has to send its request (and v2's dial data)."""
MAX_V1_DIALS: Final = 4
"""v1: addresses tried per request (all on the requester's IP)."""
_FAILURES: Final = (StackError, trio.BrokenResourceError, trio.ClosedResourceError, OSError)

StatusCounts = dict[str, int]


class _OwnLimit(Exception):
    """Our own resource limits refused the dial-back: no verdict on the address."""


def _refused_locally(exc: BaseException) -> bool:
    """Whether a dial failed on our own limits (not on the address)."""
    if isinstance(exc, LimitExceeded):
        return exc.local
    if isinstance(exc, DialError):
        return bool(exc.attempts) and all(_refused_locally(e) for _, e in exc.attempts)
    return False


async def _answer(stream: NetStream, message: bytes) -> None:
    """Send the last message and close our side; a requester gone by then is no fault."""
    try:
        await stream.send_all(length_prefixed(message))
        await stream.send_eof()
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        logger.debug("AutoNAT: %s left before its answer: %s", stream.remote_peer.short(), exc)


class AutoNATServer:
    """Answers AutoNAT requests for ``node`` (see the module docstring).

    ``stats`` counts the outcomes (``"v1:ok"``, ``"v2:rejected"``, ``"bad-request"``...).
    """

    def __init__(self, node: NodeContext, config: AutoNATConfig) -> None:
        self.node = node
        self.config = config
        self.limiter = RequestLimiter(
            per_peer=config.max_requests_per_peer,
            total=config.max_requests,
            window=config.rate_window,
            max_in_flight=config.max_concurrent_dials,
        )
        self.stats: StatusCounts = {}
        self.dial_backs: StatusCounts = {"connected": 0, "failed": 0}
        """Dial-backs made: ``connected`` (a connection to the address), ``failed``."""

    def install(self) -> None:
        """Serve both protocol versions."""
        self.node.set_stream_handler(v1.PROTOCOL_V1, self.handle_v1)
        self.node.set_stream_handler(v2.DIAL_REQUEST_PROTOCOL, self.handle_v2)

    def _count(self, what: str) -> None:
        self.stats[what] = self.stats.get(what, 0) + 1

    def _refusal(self, addr: Multiaddr) -> str | None:
        return refusal(
            addr,
            allow_private=self.config.allow_private_addrs,
            can_dial=lambda a: any(t.can_dial(a) for t in self.node.transports),
            versions=ip_versions(self.node.listen_addrs) or None,
        )

    async def _dial_back(self, addr: Multiaddr, peer: PeerId | None) -> Connection:
        """A NEW connection to ``addr`` (never an open one reused), checked to reach
        ``peer`` when given, from an ephemeral port (never our listening port, even with
        TCP port reuse: the spec's rule). Raises StackError or OSError subclasses on failure."""
        try:
            with ephemeral_port_dials():
                conn = await self.node.dial(addr.without_peer_id())
        except _FAILURES:
            self.dial_backs["failed"] += 1
            raise
        self.dial_backs["connected"] += 1
        if peer is not None and conn.peer_id != peer:
            await conn.aclose()
            raise AutoNATError(f"{addr} is {conn.peer_id.short()}, not the requester", remote=True)
        return conn

    # ------------------------------------------------------------------------------ v1
    async def handle_v1(self, stream: NetStream) -> None:
        """Serve one ``/libp2p/autonat/1.0.0`` request."""
        conn = stream.connection
        with trio.move_on_after(REQUEST_TIMEOUT + self.config.dial_timeout):
            try:
                with trio.fail_after(REQUEST_TIMEOUT):
                    request = v1.decode_v1_dial(
                        await stream.receive_length_prefixed(v1.MAX_MESSAGE_SIZE)
                    )
            except (StackError, trio.TooSlowError) as exc:
                self._count("bad-request")
                logger.debug("AutoNAT v1 request from %s: %s", conn.peer_id.short(), exc)
                response = v1.V1DialResponse(v1.V1Status.E_BAD_REQUEST, "malformed request")
            else:
                response = await self._serve_v1(conn, request)
            await _answer(stream, v1.encode_v1_response(response))

    async def _serve_v1(self, conn: Connection, request: v1.V1Dial) -> v1.V1DialResponse:
        status = v1.V1Status
        if conn.limited:
            self._count("v1:refused")
            return v1.V1DialResponse(status.E_DIAL_REFUSED, "no dial requests over a relay")
        if request.peer_id != conn.peer_id:
            self._count("bad-request")
            return v1.V1DialResponse(status.E_BAD_REQUEST, "the peer id is not the requester's")
        targets = [
            a for a in request.addrs if same_ip(a, conn.remote_addr) and self._refusal(a) is None
        ][:MAX_V1_DIALS]
        if not targets:
            self._count("v1:refused")
            return v1.V1DialResponse(status.E_DIAL_REFUSED, "no dialable address on your IP")
        why = self.limiter.admit(conn.peer_id, trio.current_time())
        if why is not None:
            self._count("v1:rate-limited")
            return v1.V1DialResponse(status.E_DIAL_REFUSED, why)
        own_limits = 0
        try:
            with trio.move_on_after(self.config.dial_timeout):
                for addr in targets:
                    try:
                        back = await self._dial_back(addr, conn.peer_id)
                    except _FAILURES as exc:
                        logger.debug("AutoNAT v1 dial-back to %s failed: %s", addr, exc)
                        own_limits += _refused_locally(exc)
                        continue
                    await back.aclose()
                    self._count("v1:ok")
                    return v1.V1DialResponse(status.OK, addr=addr)
        finally:
            self.limiter.done()
        if own_limits == len(targets):
            self._count("v1:own-limit")
            return v1.V1DialResponse(status.E_DIAL_REFUSED, "our connection limits refused")
        self._count("v1:dial-error")
        return v1.V1DialResponse(status.E_DIAL_ERROR, "dial failed")

    # ------------------------------------------------------------------------------ v2
    async def handle_v2(self, stream: NetStream) -> None:
        """Serve one ``/libp2p/autonat/2/dial-request`` request."""
        conn = stream.connection
        with trio.move_on_after(REQUEST_TIMEOUT + self.config.dial_timeout) as scope:
            try:
                with trio.fail_after(REQUEST_TIMEOUT):
                    request = v2.decode_v2(
                        await stream.receive_length_prefixed(v2.MAX_MESSAGE_SIZE)
                    )
                if not isinstance(request, v2.DialRequest):
                    raise AutoNATError(f"expected a DialRequest, got {type(request).__name__}")
                response = await self._serve_v2(stream, request)
            except (StackError, trio.TooSlowError) as exc:
                self._count("bad-request")
                logger.debug("AutoNAT v2 request from %s: %s", conn.peer_id.short(), exc)
                await stream.reset()
                return
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._count("v2:aborted")  # e.g. the client would not pay the dial data
                logger.debug("AutoNAT v2 request from %s ended: %s", conn.peer_id.short(), exc)
                return
            await _answer(stream, v2.encode_v2(response))
        if scope.cancelled_caught:
            self._count("v2:timeout")
            await stream.reset()

    async def _serve_v2(self, stream: NetStream, request: v2.DialRequest) -> v2.DialResponse:
        conn = stream.connection
        status = v2.ResponseStatus
        if conn.limited:
            self._count("v2:rejected")
            return v2.DialResponse(status.E_REQUEST_REJECTED)
        chosen = next(
            (i for i, a in enumerate(request.addrs) if a is not None and self._refusal(a) is None),
            None,
        )
        if chosen is None:
            self._count("v2:refused")
            return v2.DialResponse(status.E_DIAL_REFUSED)
        addr = request.addrs[chosen]
        assert addr is not None
        why = self.limiter.admit(conn.peer_id, trio.current_time())
        if why is not None:
            self._count("v2:rejected")
            logger.debug("AutoNAT v2 request from %s rejected: %s", conn.peer_id.short(), why)
            return v2.DialResponse(status.E_REQUEST_REJECTED)
        try:
            if not same_ip(addr, conn.remote_addr):
                await self._collect_dial_data(stream, chosen)
            dial_status = await self._dial_back_v2(addr, request.nonce)
        except _OwnLimit:
            self._count("v2:own-limit")
            return v2.DialResponse(status.E_REQUEST_REJECTED)
        finally:
            self.limiter.done()
        self._count(f"v2:{dial_status.name.lower()}")
        return v2.DialResponse(status.OK, chosen, dial_status)

    async def _collect_dial_data(self, stream: NetStream, index: int) -> None:
        """Ask for the amplification cost and read it (raises on anything else)."""
        wanted = self.config.dial_data_bytes
        self._count("v2:dial-data")
        await stream.send_all(length_prefixed(v2.encode_v2(v2.DialDataRequest(index, wanted))))
        received = 0
        with trio.fail_after(REQUEST_TIMEOUT):
            while received < wanted:
                message = v2.decode_v2(await stream.receive_length_prefixed(v2.MAX_MESSAGE_SIZE))
                if not isinstance(message, v2.DialDataResponse):
                    raise AutoNATError(f"expected DialDataResponse, got {type(message).__name__}")
                if message.size == 0:
                    raise AutoNATError("an empty DialDataResponse")
                received += message.size

    async def _dial_back_v2(self, addr: Multiaddr, nonce: int) -> v2.DialStatus:
        connected = False
        with trio.move_on_after(self.config.dial_timeout):
            try:
                back = await self._dial_back(addr, None)
            except _FAILURES as exc:
                logger.debug("AutoNAT v2 dial-back to %s failed: %s", addr, exc)
                if _refused_locally(exc):
                    raise _OwnLimit from exc
                return v2.DialStatus.E_DIAL_ERROR
            connected = True
            try:
                stream = await back.new_stream(v2.DIAL_BACK_PROTOCOL)
                try:
                    await stream.send_all(length_prefixed(v2.encode_dial_back(nonce)))
                    v2.decode_dial_back_response(
                        await stream.receive_length_prefixed(v2.MAX_MESSAGE_SIZE)
                    )
                finally:
                    await stream.aclose()
            except _FAILURES as exc:
                logger.debug("AutoNAT v2 dial-back stream to %s failed: %s", addr, exc)
                return v2.DialStatus.E_DIAL_BACK_ERROR
            finally:
                await back.aclose()
            return v2.DialStatus.OK
        return v2.DialStatus.E_DIAL_BACK_ERROR if connected else v2.DialStatus.E_DIAL_ERROR
