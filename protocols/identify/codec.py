"""Encoding and decoding identify messages (pure, no I/O)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from p2pstack.errors import MultiaddrError
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protobuf import parse_message, text, texts
from p2pstack.protocols.errors import IdentifyDecodeError, IdentifyError
from p2pstack.protocols.identify.pb.identify_pb2 import Identify

logger: Final = logging.getLogger("p2pstack.identify")

MAX_SEND_SIZE: Final = 4096
"""rust-libp2p reads one message of at most 4096 bytes; never send more."""
MAX_RECEIVE_SIZE: Final = 8192
MAX_MESSAGES: Final = 10
MAX_ADDRS: Final = 64
MAX_PROTOCOLS: Final = 256


@dataclass(frozen=True, slots=True)
class IdentifyInfo:
    """What a peer told us about itself."""

    peer_id: PeerId
    protocol_version: str
    agent_version: str
    public_key: bytes
    listen_addrs: tuple[Multiaddr, ...]
    observed_addr: Multiaddr | None
    protocols: tuple[str, ...]
    signed_peer_record: bytes | None = None
    """The ``signedPeerRecord`` envelope as received, not yet verified
    (:mod:`p2pstack.protocols.identify.records` verifies it)."""


def encode_identify(
    *,
    public_key: bytes,
    listen_addrs: list[Multiaddr],
    protocols: list[str],
    observed_addr: Multiaddr | None,
    agent_version: str,
    protocol_version: str,
    signed_peer_record: bytes | None = None,
) -> bytes:
    """Serialize our identify message, trimming addresses (then dropping the signed peer
    record) so it stays under 4096 bytes."""
    message = Identify(
        protocolVersion=protocol_version,
        agentVersion=agent_version,
        publicKey=public_key,
        listenAddrs=[a.to_bytes() for a in listen_addrs[:MAX_ADDRS]],
        protocols=protocols[:MAX_PROTOCOLS],
    )
    if observed_addr is not None:
        message.observedAddr = observed_addr.to_bytes()
    if signed_peer_record is not None:
        message.signedPeerRecord = signed_peer_record
    data = message.SerializeToString()
    while len(data) > MAX_SEND_SIZE and message.listenAddrs:
        del message.listenAddrs[-1]
        data = message.SerializeToString()
    if len(data) > MAX_SEND_SIZE:
        message.ClearField("signedPeerRecord")
        data = message.SerializeToString()
    return data


def decode_identify(messages: list[bytes], expected_peer: PeerId) -> IdentifyInfo:
    """Merge one or more identify messages and check them against the authenticated peer.

    Unparseable addresses are skipped (with a debug log); everything else malformed raises.

    Raises:
        IdentifyDecodeError: a message does not parse, or a string field is not UTF-8.
        IdentifyError: the public key is malformed or not the peer's.
    """
    merged = Identify()
    for data in messages:
        parse_message(merged, data, what="identify message", error=IdentifyDecodeError, merge=True)
    if merged.HasField("publicKey"):
        try:
            claimed = PeerId.from_public_key_bytes(merged.publicKey)
        except ValueError as exc:
            raise IdentifyError(f"identify public key is malformed: {exc}") from exc
        if claimed != expected_peer:
            raise IdentifyError(
                f"identify public key belongs to {claimed}, not to the authenticated "
                f"peer {expected_peer}"
            )
    protocols = texts(
        merged.protocols[:MAX_PROTOCOLS], what="identify protocol", error=IdentifyDecodeError
    )
    return IdentifyInfo(
        peer_id=expected_peer,
        protocol_version=text(
            merged.protocolVersion, what="identify protocolVersion", error=IdentifyDecodeError
        ),
        agent_version=text(
            merged.agentVersion, what="identify agentVersion", error=IdentifyDecodeError
        ),
        public_key=merged.publicKey,
        listen_addrs=tuple(_addrs(merged.listenAddrs[:MAX_ADDRS])),
        observed_addr=next(iter(_addrs([merged.observedAddr])), None)
        if merged.HasField("observedAddr")
        else None,
        protocols=tuple(p for p in protocols if p.startswith("/")),
        signed_peer_record=merged.signedPeerRecord if merged.HasField("signedPeerRecord") else None,
    )


def _addrs(raw: list[bytes]) -> list[Multiaddr]:
    out = []
    for data in raw:
        try:
            out.append(Multiaddr.from_bytes(data))
        except MultiaddrError as exc:
            logger.debug("skipping a malformed address in identify: %s", exc)
    return out
