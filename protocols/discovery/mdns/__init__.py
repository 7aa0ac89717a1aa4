"""Local peer discovery with mDNS (libp2p mDNS spec), on zeroconf.

Quick start::

    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"],
        services=[mdns(MdnsConfig(interfaces=("127.0.0.1",)))],
    ) as node:
        with node.events.subscribe() as events:
            async for event in events:
                if isinstance(event, PeerDiscovered):
                    await node.dial(event.peer_id)

:mod:`.records` holds the pure TXT record code, :mod:`.table` what is remembered,
:mod:`.config` the settings, :mod:`.service` the service that runs the :mod:`.advertiser` and
the :mod:`.browser` over zeroconf (:mod:`.zeroconf_bridge`), :mod:`.bridge` the thread/trio
glue.
"""

from p2pstack.protocols.discovery.mdns.config import (
    MdnsConfig as MdnsConfig,
    MdnsStats as MdnsStats,
    PeerDiscovered as PeerDiscovered,
)
from p2pstack.protocols.discovery.mdns.records import (
    SERVICE_TYPE as SERVICE_TYPE,
    Announcement as Announcement,
    TxtRecordError as TxtRecordError,
    generate_peer_name as generate_peer_name,
    parse_announcement as parse_announcement,
)
from p2pstack.protocols.discovery.mdns.service import MdnsService as MdnsService, mdns as mdns

__all__ = [
    "SERVICE_TYPE",
    "Announcement",
    "MdnsConfig",
    "MdnsService",
    "MdnsStats",
    "PeerDiscovered",
    "TxtRecordError",
    "generate_peer_name",
    "mdns",
    "parse_announcement",
]
