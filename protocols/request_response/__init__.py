"""Request-response behind a firewall (one stream per request, py-libp2p compatible).

Quick start::

    rr = request_response("/app/query/1", JsonCodec(), handler=answer)
    async with open_node(protocols=[rr], listen=[...]) as node:
        response = await rr.request(peer_or_addr, {"q": 1}, timeout=5)

See :mod:`.service` for the wire behaviour, :mod:`.firewall` for the rules and
:mod:`.limits` for limits and backpressure.
"""

from p2pstack.protocols.request_response.codec import (
    BytesCodec as BytesCodec,
    Codec as Codec,
    DataclassCodec as DataclassCodec,
    JsonCodec as JsonCodec,
)
from p2pstack.protocols.request_response.errors import (
    BodyTooLarge as BodyTooLarge,
    CodecError as CodecError,
    ConnectionDropped as ConnectionDropped,
    DialFailure as DialFailure,
    MalformedMessage as MalformedMessage,
    MemoryRefused as MemoryRefused,
    NotPermitted as NotPermitted,
    RequestResponseError as RequestResponseError,
    RequestTimeout as RequestTimeout,
    ResponseOmitted as ResponseOmitted,
    TrailingData as TrailingData,
    TruncatedMessage as TruncatedMessage,
    UnsupportedProtocols as UnsupportedProtocols,
)
from p2pstack.protocols.request_response.events import (
    InboundFailure as InboundFailure,
    OutboundFailure as OutboundFailure,
)
from p2pstack.protocols.request_response.firewall import (
    AllowAll as AllowAll,
    ApprovalRequest as ApprovalRequest,
    Approver as Approver,
    Ask as Ask,
    Firewall as Firewall,
    RejectAll as RejectAll,
    RequestDirection as RequestDirection,
    Restricted as Restricted,
    Rule as Rule,
    RuleProvider as RuleProvider,
    Rules as Rules,
    UnserializableRule as UnserializableRule,
)
from p2pstack.protocols.request_response.framing import REJECTION as REJECTION
from p2pstack.protocols.request_response.limits import (
    Backpressure as Backpressure,
    RequestResponseConfig as RequestResponseConfig,
)
from p2pstack.protocols.request_response.responder import (
    InboundRequest as InboundRequest,
    RequestContext as RequestContext,
    Responder as Responder,
)
from p2pstack.protocols.request_response.service import (
    Handler as Handler,
    RequestResponse as RequestResponse,
    request_response as request_response,
)

__all__ = [
    "REJECTION",
    "AllowAll",
    "ApprovalRequest",
    "Approver",
    "Ask",
    "Backpressure",
    "BodyTooLarge",
    "BytesCodec",
    "Codec",
    "CodecError",
    "ConnectionDropped",
    "DataclassCodec",
    "DialFailure",
    "Firewall",
    "Handler",
    "InboundFailure",
    "InboundRequest",
    "JsonCodec",
    "MalformedMessage",
    "MemoryRefused",
    "NotPermitted",
    "OutboundFailure",
    "RejectAll",
    "RequestContext",
    "RequestDirection",
    "RequestResponse",
    "RequestResponseConfig",
    "RequestResponseError",
    "RequestTimeout",
    "Responder",
    "ResponseOmitted",
    "Restricted",
    "Rule",
    "RuleProvider",
    "Rules",
    "TrailingData",
    "TruncatedMessage",
    "UnserializableRule",
    "UnsupportedProtocols",
    "request_response",
]
