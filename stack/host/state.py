"""One document for the state an application keeps across restarts.

:func:`export_state` gathers the node's ban list, the addresses of the peer store, the
dialing relays and the state of every service that is a
:class:`~p2pstack.host.service.StateProvider` (a request-response firewall's rules) into
JSON-ready data; :func:`import_state` restores it. ``Node.export_state`` and
``Node.import_state`` call these.

The document::

    {"version": 1,
     "bans": ["12D3KooW..."],
     "addrs": {"12D3KooW...": ["/ip4/..."]},          # permanent (added by the user)
     "learned_addrs": {"12D3KooW...": ["/ip4/..."]},  # expiring (identify, dials)
     "records": {"12D3KooW...": "0a24..."},  # signed peer records (envelope hex)
     "relays": ["/ip4/.../p2p/12D3KooW..."], "relay_fallback": false,
     "peer_relays": {"12D3KooW...": ["/ip4/.../p2p/12D3KooW..."]},
     "services": {"request-response:/app/1": {...}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from p2pstack.errors import InvalidConfigError, StackError
from p2pstack.host.dialer import relay_address
from p2pstack.host.peerstore import DEFAULT_TTL, PERMANENT, parse_records
from p2pstack.host.service import StateProvider
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr

if TYPE_CHECKING:
    from p2pstack.host.node import Node

VERSION: Final = 1


def export_state(node: Node) -> dict[str, Any]:
    """``node``'s state as JSON-ready data (see the module docstring)."""
    return {
        "version": VERSION,
        "bans": sorted(str(p) for p in node.banned_peers),
        "addrs": node.peerstore.export_addrs(permanent=True),
        "learned_addrs": node.peerstore.export_addrs(permanent=False),
        "records": node.peerstore.export_records(),
        "relays": [str(r) for r in node.dialing_relays],
        "relay_fallback": node.relay_fallback,
        "peer_relays": {str(p): [str(r) for r in rs] for p, rs in node.peer_relays.items()},
        "services": {s.state_key: s.export_state() for s in _providers(node)},
    }


def import_state(node: Node, data: Mapping[str, Any]) -> None:
    """Merge ``data`` (written by :func:`export_state`) into ``node``.

    Bans are added (connections to newly banned peers are closed in the background),
    addresses added (user addresses permanent, learned ones for ``DEFAULT_TTL``), signed
    peer records verified again and their addresses certified for ``DEFAULT_TTL``, relays
    added, and each service's entry handed to the service with that ``state_key``
    (entries of services the node does not run are ignored).

    Raises:
        InvalidConfigError: ``data`` is malformed (nothing of the node's own state was
            changed; a service may have refused its entry after the node's was applied).
    """
    try:
        if data.get("version", VERSION) != VERSION:
            raise ValueError(f"unsupported version {data.get('version')!r}")
        bans = [PeerId.from_string(p) for p in data.get("bans", [])]
        addrs = _addrs(data.get("addrs", {}))
        learned = _addrs(data.get("learned_addrs", {}))
        records = data.get("records", {})
        if not isinstance(records, Mapping):
            raise TypeError("records must map peer ids to envelopes")
        signed = parse_records(records)
        relays = [Multiaddr(r) for r in data.get("relays", [])]
        peer_relays = {
            PeerId.from_string(p): [Multiaddr(r) for r in rs]
            for p, rs in dict(data.get("peer_relays", {})).items()
        }
        fallback = data.get("relay_fallback", node.relay_fallback)
        if not isinstance(fallback, bool):
            raise TypeError("relay_fallback must be true or false")
        services = dict(data.get("services", {}))
        for relay in [*relays, *(r for rs in peer_relays.values() for r in rs)]:
            relay_address(relay)  # raises InvalidConfigError
    except (AttributeError, TypeError, ValueError, StackError) as exc:
        raise InvalidConfigError(f"malformed node state: {exc}") from exc
    for peer in bans:
        node.bans.ban(peer)
        if node.connection_to(peer) is not None:
            node.spawn(node.hang_up, peer)
    for peer, peer_addrs in addrs.items():
        node.peerstore.add_addrs(peer, peer_addrs, PERMANENT)
    for peer, peer_addrs in learned.items():
        node.peerstore.add_addrs(peer, peer_addrs, DEFAULT_TTL)
    for record in signed:
        node.peerstore.consume_peer_record(record, DEFAULT_TTL)
    for relay in relays:
        node.add_dialing_relay(relay)
    for peer, peer_relay_addrs in peer_relays.items():
        for relay in peer_relay_addrs:
            node.add_dialing_relay(relay, peer=peer)
    node.relay_fallback = fallback
    for provider in _providers(node):
        if provider.state_key in services:
            provider.import_state(services[provider.state_key])


def _addrs(data: object) -> dict[PeerId, list[Multiaddr]]:
    if not isinstance(data, Mapping):
        raise TypeError("addresses must map peer ids to lists of addresses")
    return {PeerId.from_string(str(p)): [Multiaddr(a) for a in addrs] for p, addrs in data.items()}


def _providers(node: Node) -> list[StateProvider]:
    return [s for s in node.services if isinstance(s, StateProvider)]
