"""The identify service: answer identify, identify every new connection, push changes."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Final, final

import trio

from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError, StackError, UnexpectedEOF
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.host.events import (
    AnnouncedAddrsChanged,
    ConnectionClosed,
    ListenAddrAdded,
    ListenAddrRemoved,
    PeerIdentified,
)
from p2pstack.host.netstream import NetStream
from p2pstack.host.peerstore import DEFAULT_TTL
from p2pstack.identity import PeerId
from p2pstack.protocols.identify.codec import (
    MAX_MESSAGES,
    MAX_RECEIVE_SIZE,
    IdentifyInfo,
    decode_identify,
    encode_identify,
)
from p2pstack.protocols.identify.observed import ObservedAddrs
from p2pstack.protocols.identify.records import PeerRecords
from p2pstack.varint import length_prefixed

IDENTIFY_PROTOCOL: Final = "/ipfs/id/1.0.0"
IDENTIFY_PUSH_PROTOCOL: Final = "/ipfs/id/push/1.0.0"
PROTOCOL_VERSION: Final = "ipfs/0.1.0"
logger: Final = logging.getLogger("p2pstack.identify")


def _agent_version() -> str:
    try:
        return f"p2pstack/{version('p2pstack')}"
    except PackageNotFoundError:
        return "p2pstack"


AGENT_VERSION: Final = _agent_version()


@dataclass(frozen=True, kw_only=True, slots=True)
class IdentifyConfig:
    """Identify options."""

    agent_version: str = AGENT_VERSION
    timeout: float = 10.0
    """How long identifying one connection may take; also bounds answering a peer's identify
    request and receiving its push (the stream is reset when it runs out)."""
    push: bool = True
    """Push our new addresses to connected peers when they change."""
    signed_peer_record: bool = True
    """Send our signed peer record (``signedPeerRecord``) with our announced addresses.
    Peers' records are verified either way."""

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise InvalidConfigError("timeout must be positive")


@final
class IdentifyService:
    """Identifies every connection from our side and answers the peers' identify requests.

    Results go to the node's peer store and to :class:`~p2pstack.host.events.PeerIdentified` events;
    :meth:`wait_identified` waits for the first result of a connection.
    """

    def __init__(self, config: IdentifyConfig) -> None:
        self.config = config
        self._node: NodeContext | None = None
        self.records = PeerRecords()
        """Our signed peer record and the tally of the peers' (``records.counts``)."""
        self._results: dict[int, IdentifyInfo] = {}
        self._done: dict[int, trio.Event] = {}
        self.observed_addrs: dict[str, int] = {}
        """Our addresses as peers observed them, with how many peers reported each."""
        self.observed = ObservedAddrs()
        """Observed addresses by distinct observer groups (confirmed ones feed AutoNAT)."""

    @property
    def node(self) -> NodeContext:
        if self._node is None:
            raise StackError("the identify service is not attached to a running node")
        return self._node

    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._node = node
        node.set_stream_handler(IDENTIFY_PROTOCOL, self._handle_identify)
        node.set_stream_handler(IDENTIFY_PUSH_PROTOCOL, self._handle_push)
        node.add_connection_callback(self._on_connection)
        with node.events.subscribe() as events:
            task_status.started()
            async for event in events:
                if isinstance(event, ConnectionClosed):
                    self._results.pop(event.connection.id, None)
                    self._done.pop(event.connection.id, None)
                elif self.config.push and isinstance(
                    event, ListenAddrAdded | ListenAddrRemoved | AnnouncedAddrsChanged
                ):
                    for conn in node.connections:
                        conn.spawn(self._push, conn)

    def _on_connection(self, conn: Connection) -> None:
        self._done[conn.id] = trio.Event()
        conn.spawn(self._identify_connection, conn)

    def _message(self, conn: Connection) -> bytes:
        node = self.node
        record = (
            self.records.ours(node.identity, node.announced_addrs, time.time_ns()).data
            if self.config.signed_peer_record
            else None
        )
        return encode_identify(
            public_key=node.identity.public_key.to_protobuf(),
            listen_addrs=node.announced_addrs,
            protocols=node.protocols,
            observed_addr=conn.remote_addr,
            agent_version=self.config.agent_version,
            protocol_version=PROTOCOL_VERSION,
            signed_peer_record=record,
        )

    async def _handle_identify(self, stream: NetStream) -> None:
        with trio.move_on_after(self.config.timeout) as scope:
            await stream.send_all(length_prefixed(self._message(stream.connection)))
            await stream.send_eof()
        if scope.cancelled_caught:
            await self._timed_out(stream)

    async def _handle_push(self, stream: NetStream) -> None:
        with trio.move_on_after(self.config.timeout) as scope:
            messages = await _read_messages(stream)
        if scope.cancelled_caught:
            await self._timed_out(stream)
            return
        self._record(stream.connection, decode_identify(messages, stream.remote_peer))

    async def _timed_out(self, stream: NetStream) -> None:
        logger.debug(
            "%s stream from %s took over %s s; resetting",
            stream.protocol,
            stream.remote_peer.short(),
            self.config.timeout,
        )
        await stream.reset()

    async def _push(self, conn: Connection) -> None:
        # A change right after connecting is pushed once our own identify of the peer says
        # it takes pushes (that exchange is bounded by the identify timeout).
        info = await self.wait_identified(conn)
        if info is None or IDENTIFY_PUSH_PROTOCOL not in info.protocols:
            return
        try:
            stream = await conn.new_stream(IDENTIFY_PUSH_PROTOCOL)
            try:
                await stream.send_all(length_prefixed(self._message(conn)))
                await stream.send_eof()
            finally:
                await stream.aclose()
        except (StackError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("identify push to %s failed: %s", conn.peer_id.short(), exc)

    async def _identify_connection(self, conn: Connection) -> None:
        try:
            with trio.fail_after(self.config.timeout):
                stream = await conn.new_stream(IDENTIFY_PROTOCOL)
                try:
                    messages = await _read_messages(stream)
                finally:
                    await stream.aclose()
            self._record(conn, decode_identify(messages, conn.peer_id))
        except (
            StackError,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
            trio.TooSlowError,
        ) as exc:
            logger.info("identifying %s failed: %s", conn.peer_id.short(), exc)
        finally:
            self._done.setdefault(conn.id, trio.Event()).set()

    def _record(self, conn: Connection, info: IdentifyInfo) -> None:
        node = self.node
        self._results[conn.id] = info
        node.peerstore.add_addrs(info.peer_id, info.listen_addrs, DEFAULT_TTL)
        self.records.consume(node.peerstore, info.peer_id, info.signed_peer_record, DEFAULT_TTL)
        node.peerstore.set_protocols(info.peer_id, info.protocols)
        node.peerstore.set_agent(info.peer_id, info.agent_version)
        if info.public_key:
            node.peerstore.set_public_key(info.peer_id, info.public_key)
        if info.observed_addr is not None:
            key = str(info.observed_addr)
            self.observed_addrs[key] = self.observed_addrs.get(key, 0) + 1
            if not conn.limited:  # a relayed connection's observer address is the relay's
                self.observed.record(
                    observed=info.observed_addr,
                    observer=info.peer_id,
                    observer_addr=conn.remote_addr,
                    local_addr=conn.local_addr,
                    listen_addrs=node.listen_addrs,
                    now=trio.current_time(),
                )
        logger.debug("identified %s: %s", info.peer_id.short(), info.agent_version)
        node.events.publish(
            PeerIdentified(info.peer_id, info.protocols, info.listen_addrs, info.agent_version)
        )

    async def wait_identified(self, conn: Connection) -> IdentifyInfo | None:
        """Wait for the first identify exchange on ``conn``; None if it failed or ``conn`` ended."""
        done = self._done.get(conn.id)
        if done is not None:
            await done.wait()
        return self._results.get(conn.id)

    def info(self, peer: PeerId) -> IdentifyInfo | None:
        """The latest identify result of any live connection to ``peer``."""
        for conn in self.node.connections:
            if conn.peer_id == peer and conn.id in self._results:
                return self._results[conn.id]
        return None


async def _read_messages(stream: NetStream) -> list[bytes]:
    """Read up to MAX_MESSAGES delimited messages until EOF."""
    messages: list[bytes] = []
    while len(messages) < MAX_MESSAGES:
        try:
            messages.append(await stream.receive_length_prefixed(MAX_RECEIVE_SIZE))
        except UnexpectedEOF:
            if stream.buffered:
                raise
            break
    return messages


def identify(config: IdentifyConfig | None = None) -> IdentifyService:
    """The identify protocol factory."""
    return IdentifyService(config_arg(config, IdentifyConfig, "identify(config)"))
