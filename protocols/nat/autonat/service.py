"""The AutoNAT service: measures the node's reachability and/or serves others' requests.

As a client it tests each candidate address (listen addresses, addresses announced by
UPnP or the user, and observed addresses identify's observers confirmed) with up to
``max_servers`` servers (connected peers whose identify lists an AutoNAT protocol; v2 is
preferred, v1 used when a peer speaks only v1), and publishes the verdicts with
``node.set_reachability(..., source="autonat")``. Observed addresses confirmed public are
announced, merged with what others announce. A round runs when a peer is identified (a new
server, or an observation) or an address appears, and again when a verdict is due
(``recheck_interval``); nothing polls.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Final, final

import trio

from p2pstack.arguments import config_arg
from p2pstack.errors import StackError
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.host.events import (
    AnnouncedAddrsChanged,
    ListenAddrAdded,
    ListenAddrRemoved,
    PeerIdentified,
)
from p2pstack.host.reachability import Reachability, ReachabilityStatus
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify.service import IdentifyService
from p2pstack.protocols.nat.autonat.client import DialBackReceiver, Probe, probe_v1, probe_v2
from p2pstack.protocols.nat.autonat.config import AutoNATConfig
from p2pstack.protocols.nat.autonat.policy import candidate_ok
from p2pstack.protocols.nat.autonat.server import AutoNATServer
from p2pstack.protocols.nat.autonat.v1_messages import PROTOCOL_V1
from p2pstack.protocols.nat.autonat.v2_messages import DIAL_BACK_PROTOCOL, DIAL_REQUEST_PROTOCOL
from p2pstack.protocols.nat.autonat.verdicts import Verdicts

logger: Final = logging.getLogger("p2pstack.autonat")

AUTONAT_PROTOCOLS: Final = (DIAL_REQUEST_PROTOCOL, PROTOCOL_V1)
MAX_PARALLEL_PROBES: Final = 4
_RECENT: Final = 64


@final
class AutoNATService:
    """See the module docstring. ``probes`` holds the latest answers (newest last),
    ``server`` the request handler when ``config.server``."""

    def __init__(self, config: AutoNATConfig) -> None:
        self.config = config
        self.receiver = DialBackReceiver()
        self.verdicts = Verdicts(
            min_confirmations=config.min_confirmations,
            max_servers=config.max_servers,
            recheck_interval=config.recheck_interval,
        )
        self.probes: deque[Probe] = deque(maxlen=_RECENT)
        self.probe_counts: dict[str, int] = {}
        """Answers received, by ``"v<version>:<reachable|unreachable|unanswered>"``."""
        self.server: AutoNATServer | None = None
        self._node: NodeContext | None = None
        self._wake = trio.Event()
        self._announced: tuple[Multiaddr, ...] = ()
        self._rounds = 0

    @property
    def attached(self) -> bool:
        """Whether the service runs on a node (``node`` is usable)."""
        return self._node is not None

    @property
    def node(self) -> NodeContext:
        if self._node is None:
            raise StackError("the AutoNAT service is not attached to a running node")
        return self._node

    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self._node = node
        if self.config.server:
            self.server = AutoNATServer(node, self.config)
            self.server.install()
        if not self.config.client:
            task_status.started()
            await trio.sleep_forever()
        node.set_stream_handler(DIAL_BACK_PROTOCOL, self.receiver.handle)
        with node.events.subscribe() as events:
            task_status.started()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch, events)
                await self._run()

    async def _watch(self, events: trio.MemoryReceiveChannel[Any]) -> None:
        async for event in events:
            # A new server, or a peer whose observation may confirm an observed address.
            if isinstance(event, PeerIdentified | ListenAddrAdded | ListenAddrRemoved):
                self._wake.set()
            elif isinstance(event, AnnouncedAddrsChanged):
                self._announce()  # another service replaced the list: merge ours back in
                self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake = trio.Event()
            await self.check()
            now = trio.current_time()
            due = self.verdicts.next_due(now)
            wait = self.config.recheck_interval if due is None else max(due - now, 0.001)
            if self.node.reachability.overall is Reachability.UNKNOWN:
                wait = min(wait, self.config.retry_interval)
            with trio.move_on_after(wait):
                await self._wake.wait()

    # ------------------------------------------------------------------ the client's round
    def candidates(self) -> list[Multiaddr]:
        """The addresses to test: listen, announced, and confirmed observed addresses."""
        node = self.node
        found = list(node.announced_addrs)
        if self.config.observed_addrs:
            for service in node.services:
                if isinstance(service, IdentifyService):
                    found += service.observed.confirmed(trio.current_time())
        allow = self.config.allow_private_addrs
        return list(
            dict.fromkeys(
                a.without_peer_id() for a in found if candidate_ok(a, allow_private=allow)
            )
        )

    def servers(self) -> dict[PeerId, tuple[Connection, int]]:
        """Connected peers that serve AutoNAT over a direct connection, with the version
        to use (2 if they speak it)."""
        node = self.node
        found: dict[PeerId, tuple[Connection, int]] = {}
        for conn in node.connections:
            if conn.limited or conn.is_closed or conn.peer_id in found:
                continue
            info = node.peerstore.info(conn.peer_id)
            protocols = info.protocols if info is not None else ()
            if DIAL_REQUEST_PROTOCOL in protocols:
                found[conn.peer_id] = (conn, 2)
            elif PROTOCOL_V1 in protocols:
                found[conn.peer_id] = (conn, 1)
        return found

    async def check(self) -> ReachabilityStatus:
        """Run one round: ask the servers due about each candidate, then publish the
        verdicts (and announce observed addresses confirmed public)."""
        node = self.node
        candidates = self.candidates()
        self.verdicts.forget(candidates)
        servers = self.servers()
        now = trio.current_time()
        jobs: dict[PeerId, list[Multiaddr]] = {}
        for addr in candidates:
            for server in self.verdicts.servers_to_ask(addr, servers, now):
                jobs.setdefault(server, []).append(addr)
        if jobs:
            self._rounds += 1
            logger.debug("AutoNAT round %d: %d servers", self._rounds, len(jobs))
            # One request at a time per server (js-libp2p merges concurrent dial-backs to
            # one peer); servers in parallel.
            limiter = trio.CapacityLimiter(MAX_PARALLEL_PROBES)
            async with trio.open_nursery() as nursery:
                for server, addrs in jobs.items():
                    conn, version = servers[server]
                    nursery.start_soon(self._ask_server, limiter, conn, version, addrs)
        status = self.verdicts.status(candidates, trio.current_time())
        if status != node.reachability:
            logger.info("AutoNAT: %s", status.to_json())
            node.set_reachability(status, source="autonat")
        self._announce()
        return status

    async def _ask_server(
        self,
        limiter: trio.CapacityLimiter,
        conn: Connection,
        version: int,
        addrs: list[Multiaddr],
    ) -> None:
        """Ask the server on ``conn`` about each of ``addrs`` in turn. The connection is kept
        open meanwhile (``keep_alive``): a dial-back may make the node prefer the server's new
        connection and close ours once unused. A request that failed is retried once, on a
        new connection if ours ended."""
        server, first = conn.peer_id, conn
        pinned, first.keep_alive = first.keep_alive, True
        try:
            async with limiter:
                for addr in addrs:
                    for _ in range(2):
                        if conn.is_closed:
                            found = await self._connection(server)
                            if found is None:
                                return
                            conn = found
                        if version == 2:
                            probe = await probe_v2(conn, addr, self.config, self.receiver)
                        else:
                            probe = await probe_v1(conn, self.node, addr, self.config)
                        if probe.answered:
                            break
                    logger.debug(
                        "AutoNAT v%d %s on %s: %s (%s)",
                        probe.version, server.short(), addr, probe.reachable, probe.reason,
                    )  # fmt: skip
                    self.probes.append(probe)
                    verdict = {True: "reachable", False: "unreachable", None: "unanswered"}
                    key = f"v{probe.version}:{verdict[probe.reachable]}"
                    self.probe_counts[key] = self.probe_counts.get(key, 0) + 1
                    self.verdicts.record(addr, server, probe.reachable, trio.current_time())
        finally:
            first.keep_alive = pinned
            first.touch()

    async def _connection(self, server: PeerId) -> Connection | None:
        conn = self.node.connection_to(server)
        if conn is not None and not conn.is_closed and not conn.limited:
            return conn
        try:
            with trio.fail_after(self.config.request_timeout):
                conn = await self.node.dial(server)
        except (StackError, trio.TooSlowError, OSError) as exc:
            logger.debug("AutoNAT: server %s unreachable: %s", server.short(), exc)
            return None
        return None if conn.limited else conn

    def _announce(self) -> None:
        """Announce the confirmed-public addresses that are not listen addresses, keeping
        the extra addresses others announce; withdraw ours that are no longer public."""
        if not self.config.announce_public or self._node is None:
            return
        node = self._node
        listen = node.listen_addrs
        public = tuple(a for a in node.reachability.public_addrs if a not in listen)
        extras = [a for a in node.announced_addrs if a not in listen]
        others = [a for a in extras if a not in self._announced]
        wanted = others + [a for a in public if a not in others]
        self._announced = public
        if wanted != extras:
            node.set_announced_addrs(wanted)


def autonat(config: AutoNATConfig | None = None) -> AutoNATService:
    """The AutoNAT service factory (a client by default; ``AutoNATConfig(server=True)``
    serves others too)."""
    return AutoNATService(config_arg(config, AutoNATConfig, "autonat(config)"))
