"""AutoNAT v1 and v2: learn which of our addresses others can dial, and dial others back.

``autonat(AutoNATConfig(...))`` is the service; the sans-IO parts are the message codecs
(``v1_messages``, ``v2_messages``), the server's address rules and rate limits (``policy``)
and the client's verdicts (``verdicts``); ``client`` and ``server`` are the trio adapters.
"""

from p2pstack.protocols.nat.autonat.client import Probe as Probe
from p2pstack.protocols.nat.autonat.config import AutoNATConfig as AutoNATConfig
from p2pstack.protocols.nat.autonat.errors import (
    AutoNATDecodeError as AutoNATDecodeError,
    AutoNATError as AutoNATError,
)
from p2pstack.protocols.nat.autonat.server import AutoNATServer as AutoNATServer
from p2pstack.protocols.nat.autonat.service import (
    AUTONAT_PROTOCOLS as AUTONAT_PROTOCOLS,
    AutoNATService as AutoNATService,
    autonat as autonat,
)

__all__ = [
    "AUTONAT_PROTOCOLS",
    "AutoNATConfig",
    "AutoNATDecodeError",
    "AutoNATError",
    "AutoNATServer",
    "AutoNATService",
    "Probe",
    "autonat",
]
