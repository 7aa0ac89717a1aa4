"""A UPnP mapping is announced, not taken as proof of reachability: the node stays UNKNOWN
until AutoNAT (or the user) measures it. The gateway is a stand-in (no network needed)."""

from __future__ import annotations

import pytest
import trio

from p2pstack import open_node
from p2pstack.host.events import AnnouncedAddrsChanged
from p2pstack.host.reachability import Reachability
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.nat import UpnpConfig, upnp
from p2pstack.protocols.nat.upnp import Gateway


class FakeGateway:
    """Answers like an IGD whose WAN side is 1.2.3.4 and maps every port it is asked."""

    control_url = "http://192.0.2.1:5000/ctl"
    lan_ip = "127.0.0.1"

    def __init__(self) -> None:
        self.mapped: dict[int, int] = {}

    def external_ip(self) -> str:
        return "1.2.3.4"

    def add(self, external_port: int, internal_port: int, lease: int, description: str) -> None:
        self.mapped[external_port] = internal_port

    def delete(self, external_port: int) -> None:
        self.mapped.pop(external_port, None)


async def test_mapping_is_announced_but_not_called_public(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway = FakeGateway()
    monkeypatch.setattr(Gateway, "open", classmethod(lambda cls, config: gateway))
    nat = upnp(UpnpConfig(root_url="http://192.0.2.1:5000/rootDesc.xml"))
    async with open_node(services=[nat]) as node:
        with node.events.subscribe() as events:
            await node.listen("/ip4/127.0.0.1/tcp/0")
            port = node.listen_addrs[0].host_port("tcp")
            assert port is not None
            with trio.fail_after(10):
                while not isinstance(event := await events.receive(), AnnouncedAddrsChanged):
                    pass
        external = Multiaddr(f"/ip4/1.2.3.4/tcp/{port[1]}")
        assert event.addrs == (external,)
        assert external in node.announced_addrs
        assert gateway.mapped == {port[1]: port[1]}
        assert node.reachability.overall is Reachability.UNKNOWN
        assert node.reachability.of(external) is Reachability.UNKNOWN
    assert gateway.mapped == {}  # removed when the node stopped
