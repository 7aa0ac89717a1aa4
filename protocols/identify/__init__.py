"""identify (``/ipfs/id/1.0.0``) and identify push (``/ipfs/id/push/1.0.0``)."""

from p2pstack.protocols.identify.codec import IdentifyInfo as IdentifyInfo
from p2pstack.protocols.identify.service import (
    AGENT_VERSION as AGENT_VERSION,
    IDENTIFY_PROTOCOL as IDENTIFY_PROTOCOL,
    IDENTIFY_PUSH_PROTOCOL as IDENTIFY_PUSH_PROTOCOL,
    IdentifyConfig as IdentifyConfig,
    IdentifyService as IdentifyService,
    identify as identify,
)

__all__ = [
    "AGENT_VERSION",
    "IDENTIFY_PROTOCOL",
    "IDENTIFY_PUSH_PROTOCOL",
    "IdentifyConfig",
    "IdentifyInfo",
    "IdentifyService",
    "identify",
]
