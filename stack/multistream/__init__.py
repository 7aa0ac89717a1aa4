"""multistream-select 1.0: pure message framing, sans-IO machines and trio adapters."""

from .core import MAX_REJECTIONS as MAX_REJECTIONS
from .core import Dialer as Dialer
from .core import Listener as Listener
from .core import Lister as Lister
from .core import Machine as Machine
from .core import State as State
from .lazy import LazyNegotiatedStream as LazyNegotiatedStream
from .messages import LS as LS
from .messages import MAX_MESSAGE_SIZE as MAX_MESSAGE_SIZE
from .messages import NA as NA
from .messages import PROTOCOL_ID as PROTOCOL_ID
from .messages import encode_message as encode_message
from .messages import parse_message as parse_message
from .negotiate import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from .negotiate import handle_protocol as handle_protocol
from .negotiate import list_protocols as list_protocols
from .negotiate import select_protocol as select_protocol

__all__ = [
    "DEFAULT_TIMEOUT",
    "LS",
    "MAX_MESSAGE_SIZE",
    "MAX_REJECTIONS",
    "NA",
    "PROTOCOL_ID",
    "Dialer",
    "LazyNegotiatedStream",
    "Listener",
    "Lister",
    "Machine",
    "State",
    "encode_message",
    "handle_protocol",
    "list_protocols",
    "parse_message",
    "select_protocol",
]
