"""identify (``/ipfs/id/1.0.0``) and identify push (``/ipfs/id/push/1.0.0``)."""

from .service import (
    AGENT_VERSION as AGENT_VERSION,
)
from .service import (
    IDENTIFY_PROTOCOL as IDENTIFY_PROTOCOL,
)
from .service import (
    IDENTIFY_PUSH_PROTOCOL as IDENTIFY_PUSH_PROTOCOL,
)
from .service import (
    IdentifyConfig as IdentifyConfig,
)
from .service import (
    IdentifyInfo as IdentifyInfo,
)
from .service import (
    IdentifyService as IdentifyService,
)
from .service import (
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
