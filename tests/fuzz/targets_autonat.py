"""Fuzz targets of the AutoNAT v1 and v2 decoders (messages from clients and servers)."""

from __future__ import annotations

from p2pstack.protocols.nat.autonat.v1_messages import (
    decode_v1_dial,
    decode_v1_response,
    encode_v1_dial,
    encode_v1_response,
)
from p2pstack.protocols.nat.autonat.v2_messages import (
    DialRequest,
    decode_dial_back,
    decode_dial_back_response,
    decode_v2,
    encode_dial_back,
    encode_v2,
)

from .registry import decodes, target


@target("autonat_v1")
def autonat_v1(data: bytes) -> None:
    dial = decodes(decode_v1_dial, data)
    if dial is not None:
        again = decode_v1_dial(encode_v1_dial(dial.peer_id, dial.addrs))
        assert again.peer_id == dial.peer_id
        assert again.addrs == tuple(a.without_peer_id() for a in dial.addrs)
    response = decodes(decode_v1_response, data)
    if response is not None:
        assert decode_v1_response(encode_v1_response(response)).status is response.status


@target("autonat_v2")
def autonat_v2(data: bytes) -> None:
    message = decodes(decode_v2, data)
    if message is not None:
        again = decode_v2(encode_v2(message))
        if isinstance(message, DialRequest):
            assert isinstance(again, DialRequest)
            assert again.nonce == message.nonce
            assert len(again.addrs) == len(message.addrs)
        else:
            assert type(again) is type(message)
    nonce = decodes(decode_dial_back, data)
    if nonce is not None:
        assert decode_dial_back(encode_dial_back(nonce)) == nonce
    decodes(decode_dial_back_response, data)
