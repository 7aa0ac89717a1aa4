"""Composition: open_node's arguments (protocols vs services, one error type for bad ones),
the factories' config objects, and the gaters services contribute to the node."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import trio

from p2pstack import InvalidConfigError, open_node
from p2pstack.abc.transport import NodeAwareTransport
from p2pstack.errors import DialError
from p2pstack.host.context import NodeContext
from p2pstack.host.gater import Gater
from p2pstack.host.service import GaterChain, node_gater
from p2pstack.identity import Identity, PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.muxers.yamux import YamuxConfig, yamux
from p2pstack.protocols.discovery.mdns import MdnsConfig, mdns
from p2pstack.protocols.discovery.xmpp import DiscoveryConfig, XmppConfig, xmpp_discovery
from p2pstack.protocols.echo import EchoConfig, echo
from p2pstack.protocols.identify import IdentifyConfig, identify
from p2pstack.protocols.nat import UpnpConfig, upnp
from p2pstack.protocols.perf import PerfConfig, perf
from p2pstack.protocols.ping import PingConfig, ping, ping_peer
from p2pstack.protocols.relay import (
    AutoRelayConfig,
    RelayClientConfig,
    RelayConfig,
    auto_relay,
    circuit_relay,
    relay_server,
)
from p2pstack.protocols.request_response import JsonCodec, RequestResponseConfig, request_response
from p2pstack.role import Role
from p2pstack.security.noise import NoiseConfig, noise
from p2pstack.transports.dns import DnsConfig, dns
from p2pstack.transports.memory import MemoryNetwork, memory
from p2pstack.transports.tcp import TcpConfig, tcp
from p2pstack.transports.websocket import WebSocketConfig, websocket

ADDR = "/memory/0"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"identity": "me"}, "open_node(identity)"),
        ({"listen": "/ip4/127.0.0.1/tcp/0"}, "open_node(listen)"),
        ({"listen": ["/ip4/nonsense"]}, "open_node(listen)[0]"),
        ({"listen": [4001]}, "open_node(listen)[0]"),
        ({"transports": [tcp(), "tcp"]}, "open_node(transports)[1]"),
        ({"security": [object()]}, "open_node(security)[0]"),
        ({"muxers": ["yamux"]}, "open_node(muxers)[0]"),
        ({"protocols": [ping, identify()]}, "open_node(protocols)[0]"),
        ({"services": [PingConfig()]}, "open_node(services)[0]"),
        ({"gater": object()}, "open_node(gater)"),
        ({"config": {"dial_timeout": 1}}, "open_node(config)"),
    ],
)
async def test_bad_open_node_arguments_raise_one_error_naming_them(
    kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidConfigError, match=re.escape(named)):
        async with open_node(**kwargs):
            pytest.fail("the node started")


_FACTORIES: list[tuple[Callable[[Any], object], object]] = [
    (ping, PingConfig()),
    (echo, EchoConfig()),
    (perf, PerfConfig()),
    (identify, IdentifyConfig()),
    (upnp, UpnpConfig()),
    (mdns, MdnsConfig()),
    (auto_relay, AutoRelayConfig()),
    (relay_server, RelayConfig()),
    (circuit_relay, RelayClientConfig()),
    (tcp, TcpConfig()),
    (websocket, WebSocketConfig()),
    (noise, NoiseConfig()),
    (yamux, YamuxConfig()),
]


@pytest.mark.parametrize(("factory", "config"), _FACTORIES)
def test_every_factory_takes_its_config_object(
    factory: Callable[[Any], object], config: object
) -> None:
    built = factory(config)
    assert built.config is config  # type: ignore[attr-defined]
    with pytest.raises(InvalidConfigError, match=re.escape(f"{factory.__name__}(config)")):
        factory(object())


def test_other_factories_check_their_arguments() -> None:
    rr = request_response("/x/1", JsonCodec(), config=RequestResponseConfig())
    assert rr.config.max_request_size == RequestResponseConfig().max_request_size
    with pytest.raises(InvalidConfigError, match=r"request_response\(protocol\)"):
        request_response("x/1", JsonCodec())
    with pytest.raises(InvalidConfigError, match=r"request_response\(codec\)"):
        request_response("/x/1", object())  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match=r"request_response\(config\)"):
        request_response("/x/1", JsonCodec(), config=PingConfig())  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match=r"relay_server\(public_addrs\)\[0\]"):
        relay_server(public_addrs=["/ip4/1.2.3.4/tcp/1"])  # type: ignore[list-item]
    with pytest.raises(InvalidConfigError, match=r"xmpp_discovery\(config\)"):
        xmpp_discovery(XmppConfig(jid="a@b.test", password="x"))  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match=r"memory\(network\)"):
        memory("default")  # type: ignore[arg-type]
    assert dns([tcp()], DnsConfig(timeout=1)).config.timeout == 1
    assert isinstance(
        xmpp_discovery(DiscoveryConfig(xmpp=XmppConfig(jid="a@b.test", password="x"))).gater,
        Gater,
    )


def test_the_relay_transport_is_node_aware_through_the_narrow_context() -> None:
    transport: NodeAwareTransport[NodeContext] = circuit_relay()  # checked by mypy
    assert isinstance(transport, NodeAwareTransport)
    assert isinstance(dns([tcp(), circuit_relay()]), NodeAwareTransport)  # passes it on
    assert not isinstance(tcp(), NodeAwareTransport)


# ------------------------------------------------------------------ contributed gaters


class _Recording(Gater):
    def __init__(self, name: str, log: list[str], *, deny_secured: PeerId | None = None) -> None:
        self.name, self.log, self.deny_secured = name, log, deny_secured

    def allow_secured(self, peer: PeerId, remote_addr: Multiaddr, role: Role) -> bool:
        self.log.append(self.name)
        return peer != self.deny_secured


class _Guard:
    """A service contributing a gater (as XMPP discovery does)."""

    def __init__(self, gater: Gater) -> None:
        self.gater = gater
        self.started = False

    async def serve(
        self, context: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        self.started = True
        task_status.started()


def test_node_gater_asks_the_user_first_and_stops_at_the_first_refusal() -> None:
    log: list[str] = []
    peer = Identity.generate().peer_id
    user = _Recording("user", log, deny_secured=peer)
    service = _Recording("service", log)
    gater = node_gater(user, [ping(), _Guard(service)])
    assert isinstance(gater, GaterChain)
    assert gater.gaters == (user, service)
    other = Identity.generate().peer_id
    addr = Multiaddr("/memory/1")
    assert gater.allow_secured(other, addr, Role.RESPONDER)
    assert not gater.allow_secured(peer, addr, Role.RESPONDER)
    assert log == ["user", "service", "user"]
    assert node_gater(user, [ping()]) is user
    assert node_gater(None, [_Guard(service)]) is service
    assert node_gater(None, []).allow_accept(addr)


async def test_a_service_gater_polices_the_node_without_being_passed_twice() -> None:
    network = MemoryNetwork()
    log: list[str] = []
    guard = _Guard(_Recording("service", log))
    async with (
        open_node(
            listen=[ADDR],
            transports=[memory(network)],
            gater=_Recording("user", log),
            services=[guard],
        ) as server,
        open_node(transports=[memory(network)]) as banned,
        open_node(transports=[memory(network)]) as friend,
    ):
        assert guard.started
        guard.gater.deny_secured = banned.peer_id  # type: ignore[attr-defined]
        with pytest.raises((DialError, trio.BrokenResourceError)):
            await ping_peer(banned, server.addrs[0])
        assert len(await ping_peer(friend, server.addrs[0])) == 1
        assert log[:2] == ["user", "service"]
