"""The DCUtR service (``/libp2p/dcutr``): upgrade a relayed connection to a direct one.

First, if the peer listed a public address (identify), a plain direct dial
(:meth:`DCUtRService.direct_upgrade`, the spec's unilateral upgrade); then the exchange.
Roles (libp2p/specs relay/DCUtR.md): the peer that *received* the relayed connection runs the
exchange (the *initiator*: it opens the stream, sends CONNECT with its addresses, measures the
round trip to the peer's CONNECT, sends SYNC and dials after half of it); the peer that dialled
through the relay answers (the *responder*: CONNECT back, and it dials at once on SYNC). Both
dial the other's addresses from their listening port (``TcpConfig(reuse_port=True)``), so the
two SYNs cross in the NATs: a TCP simultaneous open. On that connection the initiator is the
multistream dialer and Noise initiator, the responder the listener, whoever's connect "won"
(the roles are passed down the dial path: :meth:`~p2pstack.host.node.Node.dial_punch`). A
round that gets no direct connection is retried on the same stream (on a new one when the
peer ended it after one round, as go and js do), ``max_attempts`` in all; even rounds swap
the roles (:func:`round_role`), for peers that assign them the other way round.

On success the node prefers the direct connection for new streams and the relayed one is
superseded (it closes once unused); :class:`~p2pstack.protocols.nat.dcutr.events.HolePunchSucceeded`
is published. On failure the relayed connection stays and
:class:`~p2pstack.protocols.nat.dcutr.events.HolePunchFailed` says why. :attr:`DCUtRService.stats`
counts both.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final, final

import trio

from p2pstack.arguments import config_arg
from p2pstack.errors import (
    DialError,
    LimitExceeded,
    MessageTooLarge,
    NegotiationFailed,
    ProtocolError,
    StackError,
)
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.host.events import ConnectionOpened
from p2pstack.host.netstream import NetStream
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat.dcutr import addrs as addr_rules
from p2pstack.protocols.nat.dcutr.config import DCUtRConfig
from p2pstack.protocols.nat.dcutr.events import (
    FAILURE_CLASSES,
    HolePunchFailed,
    HolePunchSucceeded,
    failure_class,
)
from p2pstack.protocols.nat.dcutr.messages import (
    MAX_MESSAGE_SIZE,
    PROTOCOL_ID,
    SYNC,
    DCUtRProtocolError,
    HolePunch,
    MessageType,
    connect,
    decode,
    encode,
)
from p2pstack.role import Role
from p2pstack.transports.tcp import ephemeral_port_dials
from p2pstack.varint import length_prefixed

logger: Final = logging.getLogger("p2pstack.dcutr")

_STREAM_ERRORS: Final = (StackError, trio.BrokenResourceError, trio.ClosedResourceError)


class _Failed(Exception):
    """Ends an exchange with a reason (internal)."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


@final
class DCUtRService:
    """Serves ``/libp2p/dcutr`` and, with ``config.auto``, runs the exchange on every limited
    connection this node accepted. :meth:`hole_punch` runs it on demand."""

    def __init__(self, config: DCUtRConfig) -> None:
        self.config = config
        self.stats: dict[str, int] = {
            "started": 0,
            "succeeded": 0,
            "failed": 0,
            "answered": 0,
            "answered_succeeded": 0,
            "refused": 0,
            "direct_dials": 0,
            "direct_succeeded": 0,
        }
        """Counters: exchanges we ``started`` as initiator (``succeeded``/``failed``),
        exchanges we ``answered`` as responder (``answered_succeeded``), streams ``refused``
        (malformed or unexpected messages, a second exchange with one peer, over capacity),
        ``direct_dials`` tried before an exchange and how many connected (``direct_succeeded``)."""
        self.failures: dict[str, int] = dict.fromkeys(FAILURE_CLASSES, 0)
        """Failures published (either role), by :func:`~.events.failure_class`."""
        self._node: NodeContext | None = None
        self._busy: set[PeerId] = set()
        self._answered: dict[PeerId, tuple[int, float]] = {}
        """Rounds answered per peer without success, and when (see ``_recent_rounds``)."""

    @property
    def node(self) -> NodeContext:
        if self._node is None:
            raise RuntimeError("the DCUtR service is not running")
        return self._node

    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._node = node
        node.set_stream_handler(PROTOCOL_ID, self._handle, allow_limited=True)
        with node.events.subscribe() as events:
            task_status.started()
            async for event in events:
                if not (self.config.auto and isinstance(event, ConnectionOpened)):
                    continue
                conn = event.connection
                if conn.limited and conn.role is Role.RESPONDER and not conn.is_closed:
                    node.spawn(self._auto, conn)

    # ------------------------------------------------------------------ addresses
    def our_addrs(self) -> list[Multiaddr]:
        """What we send in CONNECT: ``config.addrs(node)``, else the addresses peers observed
        (identify) and the announced ones; punchable ones only (see :mod:`.addrs`)."""
        node = self.node
        if self.config.addrs is not None:
            candidates: Sequence[Multiaddr] = self.config.addrs(node)
        else:
            seen: list[Multiaddr] = []
            for service in node.services:
                counts = getattr(service, "observed_addrs", None)
                if isinstance(counts, dict):
                    seen += addr_rules.observed(counts)
            candidates = [*seen, *node.announced_addrs]
        return addr_rules.select(
            candidates, allow_private=self.config.allow_private_addrs, limit=self.config.max_addrs
        )

    def _theirs(self, message: HolePunch) -> list[Multiaddr]:
        return addr_rules.select(
            message.addrs,
            allow_private=self.config.allow_private_addrs,
            limit=self.config.max_addrs,
        )

    # ------------------------------------------------------------------ initiator
    async def _auto(self, conn: Connection) -> None:
        if self.node.connection_to(conn.peer_id) is not conn:
            return  # a direct connection is there already
        if self.config.direct_first and await self.direct_upgrade(conn) is not None:
            return
        await self.hole_punch(conn)

    async def direct_upgrade(self, conn: Connection) -> HolePunchSucceeded | None:
        """Dial the peer of the limited connection ``conn`` directly at its public addresses
        (the peer store's, once identify on ``conn`` is done); publish and return the success,
        or None: no such address, or no connection within ``dial_timeout`` (punch then).
        Never raises for a network failure."""
        node, peer = self.node, conn.peer_id
        with trio.move_on_after(self.config.message_timeout):
            for service in node.services:
                wait_identified = getattr(service, "wait_identified", None)
                if callable(wait_identified):
                    await wait_identified(conn)
        addrs = addr_rules.direct(
            node.peerstore.addrs(peer),
            allow_private=self.config.allow_private_addrs,
            limit=self.config.max_addrs,
        )
        if not addrs or node.connection_to(peer) is not conn:
            return None
        self.stats["direct_dials"] += 1
        try:
            # Not from the listening port: a dial that dies in the peer's NAT leaves state
            # there (and in ours) for that 4-tuple, which the punch that may follow needs.
            with trio.fail_after(self.config.dial_timeout), ephemeral_port_dials():
                direct = await node.dial_punch(peer, addrs, role=Role.INITIATOR)
        except (DialError, trio.TooSlowError, *_STREAM_ERRORS) as exc:
            logger.debug("direct dial to %s failed, punching: %s", peer.short(), exc)
            return None
        self.stats["direct_succeeded"] += 1
        logger.info(
            "direct connection to %s at %s: no punch needed", peer.short(), direct.remote_addr
        )
        event = HolePunchSucceeded(peer, direct.remote_addr, 0.0, 0, direct=True)
        self.node.events.publish(event)
        return event

    async def hole_punch(self, conn: Connection) -> HolePunchSucceeded | HolePunchFailed:
        """Run the exchange as initiator over the limited connection ``conn``; publish and
        return the outcome (never raises for a network or protocol failure)."""
        peer = conn.peer_id
        if peer in self._busy or len(self._busy) >= self.config.max_concurrent:
            return self._publish(HolePunchFailed(peer, "another hole punch is running", 0))
        self._busy.add(peer)
        self.stats["started"] += 1
        try:
            with trio.fail_after(self.config.stream_timeout):
                outcome: HolePunchSucceeded | HolePunchFailed = await self._initiate(conn)
        except _Failed as exc:
            outcome = HolePunchFailed(peer, exc.reason, exc.attempts)
        except trio.TooSlowError:
            outcome = HolePunchFailed(peer, f"timed out after {self.config.stream_timeout:g} s", 0)
        finally:
            self._busy.discard(peer)
        self.stats["succeeded" if isinstance(outcome, HolePunchSucceeded) else "failed"] += 1
        return self._publish(outcome)

    async def _open(self, conn: Connection) -> NetStream:
        try:
            return await self.node.new_stream(conn, PROTOCOL_ID, allow_limited=True)
        except NegotiationFailed as exc:
            raise _Failed(f"protocol not supported by the peer: {exc}", 0) from exc
        except _STREAM_ERRORS as exc:
            raise _Failed(f"cannot open a DCUtR stream: {exc}", 0) from exc

    async def _initiate(self, conn: Connection) -> HolePunchSucceeded:
        ours = self.our_addrs()
        if not ours:
            raise _Failed("no public address of ours to send (none observed or announced)", 0)
        stream = await self._open(conn)
        fresh = True  # nothing exchanged on ``stream`` yet
        reasons: list[str] = []
        try:
            for attempt in range(1, self.config.max_attempts + 1):
                try:
                    try:
                        started = trio.current_time()
                        await self._send(stream, connect(ours))
                        reply = await self._receive(stream, MessageType.CONNECT)
                    except (*_STREAM_ERRORS, trio.TooSlowError):
                        if fresh:
                            raise
                        # go and js serve one round per stream and end it, py-libp2p keeps
                        # it open but stops reading: a new stream for this round.
                        await _close(stream)
                        stream, fresh = await self._open(conn), True
                        started = trio.current_time()
                        await self._send(stream, connect(ours))
                        reply = await self._receive(stream, MessageType.CONNECT)
                    fresh = False
                    rtt = trio.current_time() - started
                    theirs = self._theirs(reply)
                    if not theirs:
                        raise _Failed("the peer sent no address to punch", attempt)
                    await self._send(stream, SYNC)
                    # The spec's timer: dial after half the measured round trip.
                    role = round_role(attempt, initiator=True)
                    addr = await self._punch(conn.peer_id, theirs, role, rtt / 2)
                except (*_STREAM_ERRORS, trio.TooSlowError) as exc:
                    raise _Failed(f"attempt {attempt}: {_describe(exc)}", attempt) from exc
                if addr is not None:
                    logger.info(
                        "hole punched to %s at %s (rtt %.1f ms, attempt %d)",
                        conn.peer_id.short(), addr, rtt * 1000, attempt,
                    )  # fmt: skip
                    return HolePunchSucceeded(conn.peer_id, addr, rtt, attempt)
                reasons.append(f"attempt {attempt}: no direct connection to {_join(theirs)}")
            raise _Failed(
                f"all {self.config.max_attempts} attempts failed ({'; '.join(reasons)})",
                self.config.max_attempts,
            )
        finally:
            await _close(stream)

    # ------------------------------------------------------------------ responder
    async def _handle(self, stream: NetStream) -> None:
        peer = stream.remote_peer
        if not stream.connection.limited:
            self.stats["refused"] += 1
            logger.debug("DCUtR from %s over a direct connection: refused", peer.short())
            await stream.reset()
            return
        if peer in self._busy or len(self._busy) >= self.config.max_concurrent:
            self.stats["refused"] += 1
            await stream.reset()
            return
        rounds = self._recent_rounds(peer)
        if rounds >= self.config.max_attempts:
            self.stats["refused"] += 1
            logger.debug(
                "DCUtR from %s: %d rounds answered just now, refused", peer.short(), rounds
            )
            await stream.reset()
            return
        self._busy.add(peer)
        self.stats["answered"] += 1
        succeeded = False
        try:
            with trio.fail_after(self.config.stream_timeout):
                here = 0  # rounds on this stream
                while rounds < self.config.max_attempts:
                    try:
                        first = await self._receive(stream, MessageType.CONNECT, eof_ok=True)
                    except (EOFError, trio.TooSlowError) as exc:
                        if here == 0:
                            if isinstance(exc, EOFError):
                                return  # nothing asked
                            raise
                        # The initiator gave up, or goes on on a new stream (go, js, py).
                        reason = f"no direct connection after {rounds} round(s); peer ended"
                        self._publish(HolePunchFailed(peer, reason, rounds, initiator=False))
                        return
                    rounds += 1
                    here += 1
                    await self._send(stream, connect(self.our_addrs()))
                    await self._receive(stream, MessageType.SYNC)
                    theirs = self._theirs(first)
                    if not theirs:
                        continue
                    addr = await self._punch(peer, theirs, round_role(rounds, initiator=False))
                    if addr is not None:
                        succeeded = True
                        self.stats["answered_succeeded"] += 1
                        self._publish(HolePunchSucceeded(peer, addr, 0.0, rounds, initiator=False))
                        return
                self._publish(
                    HolePunchFailed(peer, f"{rounds} rounds without a connection", rounds, False)
                )
        except (ProtocolError, MessageTooLarge, LimitExceeded) as exc:
            self.stats["refused"] += 1
            logger.info("DCUtR from %s refused: %s", peer.short(), exc)
            self._publish(HolePunchFailed(peer, f"refused: {exc}", rounds, initiator=False))
            await stream.reset()
        except trio.TooSlowError:
            self._publish(HolePunchFailed(peer, "timed out", rounds, initiator=False))
            await stream.reset()
        finally:
            self._busy.discard(peer)
            self._answered.pop(peer, None)
            if not succeeded:
                self._answered[peer] = (rounds, trio.current_time())

    def _recent_rounds(self, peer: PeerId) -> int:
        """Rounds answered to ``peer`` without success within ``stream_timeout`` (go and js
        open a new stream per round: the count, and so the roles, carry over)."""
        now = trio.current_time()
        for other, (_, ended) in list(self._answered.items()):
            if now - ended > self.config.stream_timeout:
                del self._answered[other]
        return self._answered.get(peer, (0, now))[0]

    # ------------------------------------------------------------------ both sides
    async def _punch(
        self, peer: PeerId, theirs: list[Multiaddr], role: Role, delay: float = 0.0
    ) -> Multiaddr | None:
        """Dial ``theirs`` as ``role`` until a direct connection to ``peer`` exists (ours, or
        one the peer's dial made that we accepted); the address it reached, or None."""
        node = self.node
        found: list[Multiaddr] = []
        timeout = delay + self.config.dial_timeout
        logger.debug(
            "punching %s as %s in %.3f s: %s", peer.short(), role.value, delay, _join(theirs)
        )
        with node.events.subscribe() as events, trio.move_on_after(timeout):
            async with trio.open_nursery() as nursery:

                async def dial() -> None:
                    try:
                        conn = await node.dial_punch(peer, theirs, role=role, delay=delay)
                    except (DialError, *_STREAM_ERRORS) as exc:
                        logger.debug("punch dial to %s failed: %s", peer.short(), exc)
                        return  # an accepted connection may still arrive
                    found.append(conn.remote_addr)
                    nursery.cancel_scope.cancel()

                async def accepted() -> None:
                    async for event in events:
                        if (
                            isinstance(event, ConnectionOpened)
                            and event.peer_id == peer
                            and not event.connection.limited
                        ):
                            found.append(event.connection.remote_addr)
                            nursery.cancel_scope.cancel()
                            return

                nursery.start_soon(accepted)
                nursery.start_soon(dial)
        return found[0] if found else None

    async def _send(self, stream: NetStream, message: HolePunch) -> None:
        with trio.fail_after(self.config.message_timeout):
            await stream.send_all(length_prefixed(encode(message)))

    async def _receive(
        self, stream: NetStream, expected: MessageType, *, eof_ok: bool = False
    ) -> HolePunch:
        """The next message, which must be ``expected``; EOFError on a clean end of stream
        before a message when ``eof_ok``."""
        with trio.fail_after(self.config.message_timeout):
            if eof_ok and not stream.buffered and await _at_eof(stream):
                raise EOFError
            data = await stream.receive_length_prefixed(MAX_MESSAGE_SIZE)
        message = decode(
            data, max_addrs=self.config.max_addrs, max_addr_len=self.config.max_addr_len
        )
        if message.type is not expected:
            raise DCUtRProtocolError(f"expected {expected.name}, got {message.type.name}")
        logger.debug(
            "%s from %s: %s (%d dropped)",
            expected.name, stream.remote_peer.short(), _join(message.addrs), message.dropped,
        )  # fmt: skip
        return message

    def _publish(
        self, event: HolePunchSucceeded | HolePunchFailed
    ) -> HolePunchSucceeded | HolePunchFailed:
        if isinstance(event, HolePunchFailed):
            logger.info("hole punch with %s failed: %s", event.peer.short(), event.reason)
            self.failures[failure_class(event.reason)] += 1
        self.node.events.publish(event)
        return event


def round_role(attempt: int, *, initiator: bool) -> Role:
    """Our role on the connection punched in round ``attempt`` (from 1) of one stream.

    Odd rounds follow the spec: the DCUtR initiator is the Noise initiator and multistream
    dialer. Even rounds swap the roles, as go-libp2p falls back to for peers that still
    assign them the other way round (js-libp2p 2.x upgrades every punch dial as the
    initiator): two p2pstack peers count rounds on the same stream and always agree.
    """
    spec = Role.INITIATOR if initiator else Role.RESPONDER
    return spec if attempt % 2 == 1 else spec.opposite


async def _close(stream: NetStream) -> None:
    with trio.CancelScope(shield=True), trio.move_on_after(1):
        await stream.aclose()


async def _at_eof(stream: NetStream) -> bool:
    """Wait for the next bytes; True when the stream ended instead (they stay buffered)."""
    chunk = await stream.receive_some()
    if not chunk:
        return True
    stream.unread(chunk)
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, trio.TooSlowError):
        return "the peer did not answer in time"
    return f"{type(exc).__name__}: {exc}"


def _join(addrs: Sequence[Multiaddr]) -> str:
    return ", ".join(str(a) for a in addrs)


def dcutr(config: DCUtRConfig | None = None) -> DCUtRService:
    """The DCUtR service factory (``config``: defaults when None). Pass it in
    ``open_node(services=[...])``; the TCP transport needs ``TcpConfig(reuse_port=True)``
    for the punch to leave from the listening port."""
    return DCUtRService(config_arg(config, DCUtRConfig, "dcutr(config)"))
