"""XMPP-presence discovery: P2P addresses and Ed25519 keys published in contacts' presence.

See ``docs``/README "XMPP presence and UPnP". Modules: :mod:`.presence` (pure ``<p2p/>``,
``<e2e/>``, caps), :mod:`.jid`, :mod:`.directory` (contacts' presence), :mod:`.client` (slixmpp
through trio-asyncio), :mod:`.dial` (dialling by JID), :mod:`.gater` (inbound authorisation),
:mod:`.service` (the node service tying them together).
"""

from p2pstack.protocols.discovery.xmpp.client import (
    XmppAuthError as XmppAuthError,
    XmppConfig as XmppConfig,
    XmppError as XmppError,
)
from p2pstack.protocols.discovery.xmpp.dial import (
    ContactDialFailed as ContactDialFailed,
    ContactError as ContactError,
    ContactHasNoP2PInfo as ContactHasNoP2PInfo,
    ContactNotAvailable as ContactNotAvailable,
    DialResult as DialResult,
    candidate_addrs as candidate_addrs,
    dial_contact as dial_contact,
)
from p2pstack.protocols.discovery.xmpp.directory import Directory as Directory, Snapshot as Snapshot
from p2pstack.protocols.discovery.xmpp.gater import (
    Decision as Decision,
    GaterConfig as GaterConfig,
    IpRule as IpRule,
    Reason as Reason,
    XmppGater as XmppGater,
)
from p2pstack.protocols.discovery.xmpp.jid import Jid as Jid, JidError as JidError
from p2pstack.protocols.discovery.xmpp.presence import (
    P2PInfo as P2PInfo,
    PresencePayload as PresencePayload,
)
from p2pstack.protocols.discovery.xmpp.service import (
    DiscoveryConfig as DiscoveryConfig,
    XmppDiscovery as XmppDiscovery,
    xmpp_discovery as xmpp_discovery,
)

__all__ = [
    "ContactDialFailed",
    "ContactError",
    "ContactHasNoP2PInfo",
    "ContactNotAvailable",
    "Decision",
    "Directory",
    "DiscoveryConfig",
    "GaterConfig",
    "IpRule",
    "Jid",
    "JidError",
    "P2PInfo",
    "PresencePayload",
    "Reason",
    "Snapshot",
    "XmppAuthError",
    "XmppConfig",
    "XmppDiscovery",
    "XmppError",
    "XmppGater",
    "candidate_addrs",
    "dial_contact",
    "xmpp_discovery",
]
