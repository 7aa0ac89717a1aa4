"""The upgrader: raw stream -> secured stream -> muxed session, in a fixed order.

Users choose which security and muxer protocols to offer (in preference order); the order of
the layers is the stack's: multistream-select(security) -> security handshake -> gater ->
multistream-select(muxer) -> muxer session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

import trio

from p2pstack.abc.muxer import MuxedSession, StreamMuxer
from p2pstack.abc.transport import RawConnection
from p2pstack.errors import (
    ConnectionDenied,
    HandshakeError,
    InvalidConfigError,
    NegotiationFailed,
)
from p2pstack.host.events import ConnectionRefused, refused
from p2pstack.host.gater import Gater, consult
from p2pstack.host.resources import UNLIMITED, MemoryBudget
from p2pstack.identity import Identity, PeerId
from p2pstack.multistream import (
    LazyNegotiatedStream,
    handle_protocol,
    select_protocol,
    unwrap_negotiated,
)
from p2pstack.role import Role
from p2pstack.security import SecureStream, SecurityTransport

logger: Final = logging.getLogger("p2pstack.upgrader")


@dataclass(frozen=True, slots=True)
class Upgraded:
    """The result of an upgrade: the secured stream and the muxed session on it."""

    secure: SecureStream
    session: MuxedSession
    security_protocol: str
    muxer_protocol: str
    seconds: float = 0.0
    """How long the upgrade (security and muxer negotiation, handshake) took."""


@dataclass(frozen=True, kw_only=True)
class Upgrader:
    """Runs the connection upgrade for one node."""

    identity: Identity
    security: Sequence[SecurityTransport]
    muxers: Sequence[StreamMuxer]
    gater: Gater
    negotiate_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.security:
            raise InvalidConfigError("at least one security protocol is required")
        if not self.muxers:
            raise InvalidConfigError("at least one stream muxer is required")

    async def upgrade(
        self,
        raw: RawConnection,
        *,
        role: Role,
        expected_peer: PeerId | None = None,
        memory: MemoryBudget = UNLIMITED,
        on_gater_bug: Callable[[Exception], None] | None = None,
        on_refused: Callable[[ConnectionRefused], None] | None = None,
    ) -> Upgraded:
        """Secure and multiplex ``raw`` as ``role`` (``Role.INITIATOR`` on the side that
        dialled); the caller bounds the time it may take.

        ``memory`` is the connection's budget: the muxer reserves its receive windows from it.
        ``on_gater_bug`` receives an exception the gater's ``allow_secured`` failed with (see
        :func:`~p2pstack.host.gater.consult`); ``on_refused`` the
        :class:`~p2pstack.host.events.ConnectionRefused` event when it refuses.

        Raises:
            NegotiationFailed, HandshakeError, PeerIdMismatch, ConnectionDenied,
            ProtocolError, or trio.BrokenResourceError from the transport. The raw stream is
            closed on any failure.
        """
        started = trio.current_time()
        try:
            upgraded = await self._upgrade(
                raw, role, expected_peer, memory, on_gater_bug, on_refused
            )
        except BaseException:
            await trio.aclose_forcefully(raw.stream)
            raise
        return replace(upgraded, seconds=trio.current_time() - started)

    async def _upgrade(
        self,
        raw: RawConnection,
        role: Role,
        expected_peer: PeerId | None,
        memory: MemoryBudget,
        on_gater_bug: Callable[[Exception], None] | None,
        on_refused: Callable[[ConnectionRefused], None] | None,
    ) -> Upgraded:
        initiator = role is Role.INITIATOR
        if raw.secured_muxed is not None:  # QUIC: its own handshake and streams
            secure = await raw.secured_muxed.secure(expected_peer)
            self._check_secured(secure, raw, role, on_gater_bug, on_refused)
            pre = raw.secured_muxed
            session = pre.new_session(role=role, memory=memory)
            return Upgraded(secure, session, pre.security_protocol, pre.muxer_protocol)
        by_id = {s.protocol_id: s for s in self.security}
        if initiator:
            stream: trio.abc.Stream
            if len(by_id) == 1:  # nothing to choose: the first handshake message goes along
                (sec_id,) = by_id
                stream = LazyNegotiatedStream(raw.stream, sec_id, timeout=self.negotiate_timeout)
            else:
                sec_id, stream = await select_protocol(
                    raw.stream, list(by_id), timeout=self.negotiate_timeout
                )
            secure = await by_id[sec_id].secure_outbound(stream, self.identity, expected_peer)
        else:
            sec_id, stream = await handle_protocol(
                raw.stream, list(by_id), timeout=self.negotiate_timeout
            )
            secure = await by_id[sec_id].secure_inbound(stream, self.identity)
        self._check_secured(secure, raw, role, on_gater_bug, on_refused)
        mux_by_id = {m.protocol_id: m for m in self.muxers}
        muxer_transport: trio.abc.Stream
        if secure.early_muxer is not None:  # negotiated inside the handshake (TLS ALPN)
            mux_id = secure.early_muxer
            if mux_id not in mux_by_id:
                raise NegotiationFailed(
                    f"the handshake negotiated muxer {mux_id}, which this node lacks",
                    protocols=tuple(mux_by_id),
                )
            muxer_transport = secure
        elif initiator and len(mux_by_id) == 1:
            # Lazy: the proposal goes out with the session's first frames, the answer is
            # checked on its first read (a refusal ends the session with NegotiationFailed).
            (mux_id,) = mux_by_id
            muxer_transport = LazyNegotiatedStream(secure, mux_id, timeout=self.negotiate_timeout)
        else:
            negotiate = select_protocol if initiator else handle_protocol
            mux_id, mux_stream = await negotiate(
                secure, list(mux_by_id), timeout=self.negotiate_timeout
            )
            # Without read-ahead bytes the muxer reads the secured stream itself (one layer
            # less per read); otherwise the wrapper serves those bytes first.
            muxer_transport = unwrap_negotiated(mux_stream)
        session = mux_by_id[mux_id].new_session(muxer_transport, role=role, memory=memory)
        logger.debug(
            "upgraded %s connection with %s via %s+%s",
            role.direction,
            secure.remote_peer.short(),
            sec_id,
            mux_id,
        )
        return Upgraded(secure, session, sec_id, mux_id)

    def _check_secured(
        self,
        secure: SecureStream,
        raw: RawConnection,
        role: Role,
        on_gater_bug: Callable[[Exception], None] | None,
        on_refused: Callable[[ConnectionRefused], None] | None,
    ) -> None:
        """Refuse ourselves and what the gater refuses once the peer is authenticated."""
        if secure.remote_peer == self.identity.peer_id:
            raise HandshakeError("the remote peer authenticated with our own identity")
        peer = secure.remote_peer
        try:
            consult(
                lambda: self.gater.allow_secured(peer, raw.remote_addr, role),
                stage="secured",
                refusal=f"the secured connection with {peer}",
                on_bug=on_gater_bug,
            )
        except ConnectionDenied as exc:
            if on_refused is not None:
                on_refused(refused(exc, remote_addr=raw.remote_addr, peer_id=peer, role=role))
            raise
