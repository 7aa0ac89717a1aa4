"""Fuzz targets of libp2p TLS: the certificate (and libp2p extension) parser, the SignedKey
DER codec, and a listening TLS session fed hostile handshake bytes."""

from __future__ import annotations

import datetime

from p2pstack.errors import StackError
from p2pstack.role import Role
from p2pstack.security.tls import TlsSession, verify_certificate, verify_certificate_chain
from p2pstack.security.tls.signed_key import decode_signed_key, encode_signed_key

from .registry import chunks, decodes, target
from .targets_codecs import ALICE

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@target("tls_certificate")
def tls_certificate(data: bytes) -> None:
    peer = decodes(verify_certificate, data, now=NOW)
    if peer is not None:
        assert peer.public_key.to_peer_id() == peer.peer_id
        assert verify_certificate_chain([data], now=NOW) == peer


@target("tls_signed_key")
def tls_signed_key(data: bytes) -> None:
    fields = decodes(decode_signed_key, data)
    if fields is not None:
        assert encode_signed_key(*fields) == data  # strict DER: one encoding per value


@target("tls_handshake")
def tls_handshake(data: bytes) -> None:
    session = TlsSession(ALICE, role=Role.RESPONDER, now=NOW)
    for piece in chunks(data):
        try:
            session.receive_data(piece)
        except StackError:
            return
        session.data_to_send()
