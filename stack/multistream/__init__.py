"""multistream-select 1.0: pure message framing, sans-IO machines and trio adapters."""

from p2pstack.multistream.core import (
    MAX_REJECTIONS as MAX_REJECTIONS,
    Machine as Machine,
    MultistreamDialer as MultistreamDialer,
    MultistreamListener as MultistreamListener,
    MultistreamLister as MultistreamLister,
    State as State,
)
from p2pstack.multistream.lazy import (
    LazyNegotiatedStream as LazyNegotiatedStream,
    unwrap_negotiated as unwrap_negotiated,
)
from p2pstack.multistream.messages import (
    LS as LS,
    MAX_MESSAGE_SIZE as MAX_MESSAGE_SIZE,
    NA as NA,
    PROTOCOL_ID as PROTOCOL_ID,
    encode_message as encode_message,
    parse_message as parse_message,
)
from p2pstack.multistream.negotiate import (
    DEFAULT_TIMEOUT as DEFAULT_TIMEOUT,
    handle_protocol as handle_protocol,
    list_protocols as list_protocols,
    select_protocol as select_protocol,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "LS",
    "MAX_MESSAGE_SIZE",
    "MAX_REJECTIONS",
    "NA",
    "PROTOCOL_ID",
    "LazyNegotiatedStream",
    "Machine",
    "MultistreamDialer",
    "MultistreamListener",
    "MultistreamLister",
    "State",
    "encode_message",
    "handle_protocol",
    "list_protocols",
    "parse_message",
    "select_protocol",
    "unwrap_negotiated",
]
