"""UDP endpoints: the listener's demultiplexer (one socket, many connections, routed by
destination connection id) and the dialler (one socket per dialled connection)."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections import deque
from collections.abc import Callable
from typing import Final, final

import trio
from aioquic.buffer import Buffer  # type: ignore[attr-defined]  # re-exported by aioquic
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicHeader, QuicPacketType, encode_quic_retry, pull_quic_header

from p2pstack.abc.transport import RawConnection
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.role import Role
from p2pstack.transports.quic.config import QuicConfig
from p2pstack.transports.quic.core import Libp2pQuicConnection
from p2pstack.transports.quic.handle import QuicHandle
from p2pstack.transports.quic.packets import (
    NEGOTIATION_VERSION,
    LongHeader,
    MalformedLongHeader,
    encode_version_negotiation,
    is_long_header,
    parse_long_header,
)
from p2pstack.transports.quic.retry import InvalidRetryToken, RetryTokens
from p2pstack.transports.quic.session import Address, QuicSession
from p2pstack.transports.quic.udp import UdpSocket

logger: Final = logging.getLogger("p2pstack.quic")

QUIC_V1: Final = 0x00000001
CID_LENGTH: Final = 8
"""The length of the connection ids we issue (aioquic's default)."""
MIN_INITIAL_SIZE: Final = 1200
MIN_INITIAL_CID_LENGTH: Final = 8
"""A client's first Initial carries an unpredictable destination connection id of at least
8 bytes (RFC 9000 §7.2); shorter ones open nothing."""
"""A client's Initial datagram is at least this large (RFC 9000 section 14.1)."""


def udp_multiaddr(sockaddr: tuple[object, ...]) -> Multiaddr:
    """``/ip4|ip6/<host>/udp/<port>/quic-v1`` of a socket address."""
    host, port = str(sockaddr[0]), int(str(sockaddr[1]))
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return Multiaddr(f"/ip{ip.version}/{ip}/udp/{port}/quic-v1")


@final
class QuicListener:
    """Accepts QUIC connections on one UDP socket.

    ``accept`` is also the socket's reader: it routes every datagram to its connection by
    destination connection id and returns when an Initial packet opened a new one. Garbage,
    short-header packets of unknown connections, datagrams under 1200 bytes that would open
    a connection, Initials addressed to a connection id under 8 bytes, Initials that do not
    decrypt, Initials with a Retry token that is not valid (forged, expired, for another
    address) and Initials beyond
    ``max_pending_handshakes`` are dropped (a connection exists only once a client's Initial
    decrypted). A datagram of at least 1200 bytes in another QUIC version gets a Version
    Negotiation packet; a first Initial gets a Retry when ``QuicConfig.retry`` says so. Both
    answers are stateless, smaller than what they answer, and sent only if the socket takes
    them at once. Closing the listener closes its connections (they share its socket).

    Counters: :attr:`dropped`, :attr:`retries_sent`, :attr:`tokens_refused`,
    :attr:`version_negotiations_sent`.
    """

    def __init__(
        self,
        sock: UdpSocket,
        config: QuicConfig,
        configuration: Callable[[], QuicConfiguration],
        local_peer: PeerId,
    ) -> None:
        self._sock = sock
        self._config = config
        self._configuration = configuration
        self._local_peer = local_peer
        self._addr = udp_multiaddr(sock.getsockname())
        self._routes: dict[bytes, QuicSession] = {}
        self._cids: dict[QuicSession, set[bytes]] = {}
        self._handshaking: set[QuicSession] = set()
        self._closed = False
        self._backlog: deque[tuple[bytes, Address]] = deque()
        self.dropped = 0
        """Datagrams dropped unrouted (garbage, unknown connection, refused Initial)."""
        self.retries_sent = 0
        """Retry packets sent (first Initials answered with an address validation)."""
        self.tokens_refused = 0
        """Initials dropped for their Retry token (invalid or expired; also in ``dropped``)."""
        self.version_negotiations_sent = 0
        """Version Negotiation packets sent (datagrams in another QUIC version)."""
        self._tokens = None if config.retry == "never" else RetryTokens()
        self._retry_from = 0 if config.retry == "always" else config.retry_threshold

    @property
    def listen_addrs(self) -> list[Multiaddr]:
        return [self._addr]

    @property
    def num_connections(self) -> int:
        """Connections routed on this socket (handshaking or established)."""
        return len(self._cids)

    async def accept(self) -> RawConnection:
        while True:
            if self._closed:
                raise trio.ClosedResourceError("the QUIC listener is closed")
            if not self._backlog:
                self._backlog.extend(await self._sock.receive_batch())
            data, addr = self._backlog.popleft()
            raw = self.datagram_received(data, addr)
            if raw is not None:
                return raw

    def datagram_received(self, data: bytes, addr: Address) -> RawConnection | None:
        """Route one datagram; the new connection if it opened one."""
        if is_long_header(data):
            try:
                invariant = parse_long_header(data)
            except MalformedLongHeader:
                self.dropped += 1
                return None
            if invariant.version != QUIC_V1:
                self._negotiate(invariant, len(data), addr)
                return None
        try:
            header = pull_quic_header(Buffer(data=data), host_cid_length=CID_LENGTH)
        except ValueError:
            self.dropped += 1
            return None
        session = self._routes.get(header.destination_cid)
        if session is not None:
            session.datagram_received(data, addr)
            return None
        if (
            header.packet_type != QuicPacketType.INITIAL
            or len(data) < MIN_INITIAL_SIZE
            or len(header.destination_cid) < MIN_INITIAL_CID_LENGTH
        ):
            self.dropped += 1
            return None
        return self._admit(header, data, addr)

    def _negotiate(self, header: LongHeader, size: int, addr: Address) -> None:
        """Answer a packet in a version we do not speak with Version Negotiation, if it could
        open a connection (at least 1200 bytes: the answer is smaller). Version Negotiation
        packets themselves are never answered (two listeners would ping-pong)."""
        if header.version == NEGOTIATION_VERSION or size < MIN_INITIAL_SIZE:
            self.dropped += 1
            return
        reply = encode_version_negotiation(header, [QUIC_V1], unused=os.urandom(1)[0])
        if self._sock.try_send(reply, addr):
            self.version_negotiations_sent += 1

    def _admit(self, header: QuicHeader, data: bytes, addr: Address) -> RawConnection | None:
        """Open a connection for a client's Initial, answer it with a Retry, or drop it."""
        pending = len(self._handshaking)
        original_cid, retry_cid = header.destination_cid, None
        if self._tokens is not None and header.token:
            try:
                original_cid = self._tokens.validate(
                    header.token,
                    address=addr,
                    destination_cid=header.destination_cid,
                    now=trio.current_time(),
                )
            except InvalidRetryToken as exc:
                logger.debug("QUIC Initial from %s refused: %s", addr, exc)
                self.tokens_refused += 1
                self.dropped += 1
                return None
            retry_cid = header.destination_cid
        elif self._tokens is not None and pending >= min(
            self._retry_from, self._config.max_pending_handshakes
        ):
            self._retry(self._tokens, header, addr)
            return None
        if pending >= self._config.max_pending_handshakes:
            self.dropped += 1
            return None
        return self._open(header.destination_cid, original_cid, retry_cid, data, addr)

    def _retry(self, tokens: RetryTokens, header: QuicHeader, addr: Address) -> None:
        """Send a Retry: the client must come back to a new connection id with the token."""
        retry_cid = os.urandom(CID_LENGTH)
        token = tokens.issue(
            address=addr,
            original_cid=header.destination_cid,
            retry_cid=retry_cid,
            now=trio.current_time(),
        )
        packet = encode_quic_retry(
            version=QUIC_V1,
            source_cid=retry_cid,
            destination_cid=header.source_cid,
            original_destination_cid=header.destination_cid,
            retry_token=token,
        )
        if self._sock.try_send(packet, addr):
            self.retries_sent += 1

    def _open(
        self,
        cid: bytes,
        original_cid: bytes,
        retry_cid: bytes | None,
        data: bytes,
        addr: Address,
    ) -> RawConnection | None:
        """Start the handshake of the Initial ``data`` addressed to ``cid`` (after a Retry:
        ``retry_cid``; the client's first Initial was addressed to ``original_cid``)."""
        quic = Libp2pQuicConnection(
            configuration=self._configuration(),
            original_destination_connection_id=original_cid,
            retry_source_connection_id=retry_cid,
            stream_window=self._config.stream_window,
            connection_window=self._config.connection_window,
        )

        async def send(datagram: bytes, to: Address) -> None:
            await self._sock.send(datagram, to)

        session = QuicSession(
            quic,
            send,
            self._config,
            role=Role.RESPONDER,
            on_cid=lambda cid, added: self._route(session, cid, added),
            on_end=self._forget,
        )
        self._cids[session] = set()
        session.datagram_received(data, addr)
        if quic.get_peer_address() is None:  # its Initial did not decrypt: nothing to serve
            self._cids.pop(session, None)
            self.dropped += 1
            return None
        self._handshaking.add(session)
        self._route(session, cid, True)
        self._route(session, quic.host_cid, True)
        handle = QuicHandle(session, self._local_peer, on_secured=self._handshaking.discard)
        return RawConnection(handle, self._addr, udp_multiaddr(addr), secured_muxed=handle)

    def _route(self, session: QuicSession, cid: bytes, added: bool) -> None:
        cids = self._cids.get(session)
        if cids is None:
            return
        if added:
            cids.add(cid)
            self._routes[cid] = session
        else:
            cids.discard(cid)
            self._routes.pop(cid, None)

    def _forget(self, session: QuicSession) -> None:
        self._handshaking.discard(session)
        for cid in self._cids.pop(session, ()):
            self._routes.pop(cid, None)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True):
            for session in list(self._cids):
                await session.close(error_code=0, reason="listener closed")
        self._sock.close()


async def dial_quic(
    host: str,
    port: int,
    config: QuicConfig,
    configuration: QuicConfiguration,
    local_peer: PeerId,
) -> RawConnection:
    """Start a QUIC connection to ``(host, port)`` from a fresh UDP socket (the handshake
    runs in the upgrade: :meth:`QuicHandle.secure`). Raises OSError."""
    sock = UdpSocket.connected(host, port)  # only the peer's datagrams reach us
    quic = Libp2pQuicConnection(
        configuration=configuration,
        stream_window=config.stream_window,
        connection_window=config.connection_window,
    )

    async def send(datagram: bytes, to: Address) -> None:
        await sock.send(datagram)

    async def pump(session: QuicSession) -> None:
        while True:
            try:
                batch = await sock.receive_batch()
            except trio.ClosedResourceError:  # the connection ended
                return
            for data, addr in batch:
                session.datagram_received(data, addr)

    session = QuicSession(
        quic, send, config, role=Role.INITIATOR, pump=pump, on_end=lambda _: sock.close()
    )
    quic.connect((host, port), now=trio.current_time())
    session.kick()
    handle = QuicHandle(session, local_peer)
    local = udp_multiaddr(sock.getsockname())
    return RawConnection(handle, local, udp_multiaddr((host, port)), secured_muxed=handle)
