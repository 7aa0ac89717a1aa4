"""Hostile TLS peers: bad certificates and garbage get a typed refusal; the node keeps serving.

Each bad certificate is presented by a real TLS 1.3 client (tests/helpers/tls_certs.py), first
to the ``/tls/1.0.0`` transport directly (to see the typed error), then to a listening node
(which must still serve a well-behaved TLS peer afterwards).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.testing
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from p2pstack.compose import open_node
from p2pstack.errors import DialError, HandshakeError, PeerIdMismatch, ProtocolError
from p2pstack.identity import Identity
from p2pstack.multistream.negotiate import select_protocol
from p2pstack.protocols.ping import ping_peer
from p2pstack.security import tls
from p2pstack.security.tls import CertificateError, TlsProtocolError
from tests.helpers.nodes import LOOPBACK, full_protocols
from tests.helpers.tls_certs import DAY, build_certificate, present_chain

ATTACKER = Identity.generate()
SERVER = Identity.generate()
NOW = datetime.datetime.now(datetime.UTC)

Chain = tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def no_extension() -> Chain:
    key = _key()
    return [build_certificate(None, key)], key


def signature_over_another_key() -> Chain:
    key = _key()
    return [build_certificate(ATTACKER, key, sign_spki_of=_key())], key


def two_certificates() -> Chain:
    key = _key()
    return [build_certificate(ATTACKER, key), build_certificate(ATTACKER, _key())], key


def expired() -> Chain:
    key = _key()
    return [build_certificate(ATTACKER, key, not_before=NOW - 3 * DAY, not_after=NOW - DAY)], key


def not_yet_valid() -> Chain:
    key = _key()
    return [build_certificate(ATTACKER, key, not_before=NOW + DAY, not_after=NOW + 3 * DAY)], key


BAD: dict[str, Callable[[], Chain]] = {
    "no-extension": no_extension,
    "signature-over-another-key": signature_over_another_key,
    "two-certificates": two_certificates,
    "expired": expired,
    "not-yet-valid": not_yet_valid,
}


@pytest.mark.parametrize("name", sorted(BAD))
async def test_bad_certificate_is_refused_with_a_certificate_error(name: str) -> None:
    chain, key = BAD[name]()
    left, right = trio.testing.memory_stream_pair()
    accepted: list[bool] = []

    async def client() -> None:
        accepted.append(await present_chain(left, chain, key))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client)
            with pytest.raises(HandshakeError) as info:
                await tls().secure_inbound(right, SERVER)
    assert isinstance(info.value.__cause__, CertificateError)
    assert accepted == [False]


@pytest.mark.parametrize(
    "client", [{"alpn": [b"h2", b"http/1.1"]}, {"tls12": True}], ids=["alpn-h2", "tls-1.2"]
)
async def test_wrong_alpn_or_tls_version_is_a_tls_protocol_error(client: dict[str, Any]) -> None:
    key = _key()
    left, right = trio.testing.memory_stream_pair()
    accepted: list[bool] = []

    async def dial() -> None:
        accepted.append(
            await present_chain(left, [build_certificate(ATTACKER, key)], key, **client)
        )

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(dial)
            with pytest.raises(HandshakeError) as info:
                await tls().secure_inbound(right, SERVER)
    assert isinstance(info.value.__cause__, TlsProtocolError)
    assert accepted == [False]


async def test_good_certificate_from_the_same_client_is_accepted() -> None:
    """The control for the refusals above: a valid chain gets through."""
    key = _key()
    left, right = trio.testing.memory_stream_pair()
    accepted: list[bool] = []

    async def client() -> None:
        accepted.append(await present_chain(left, [build_certificate(ATTACKER, key)], key))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client)
            stream = await tls().secure_inbound(right, SERVER)
            assert stream.remote_peer == ATTACKER.peer_id
            assert await stream.receive_some() == b"hello"
            await stream.send_all(b"ok")
    assert accepted == [True]


async def test_garbage_records_are_a_tls_protocol_error() -> None:
    left, right = trio.testing.memory_stream_pair()
    await left.send_all(b"\x16\x03\x01\x00\x20" + os.urandom(32))
    with trio.fail_after(10), pytest.raises(HandshakeError) as info:
        await tls().secure_inbound(right, SERVER)
    assert isinstance(info.value.__cause__, TlsProtocolError)
    assert isinstance(info.value.__cause__, ProtocolError)


async def test_node_keeps_serving_after_hostile_tls_peers() -> None:
    async with (
        open_node(listen=[LOOPBACK], security=[tls()], protocols=full_protocols()) as server,
        open_node(security=[tls()]) as client,
    ):
        addr = server.addrs[0]
        host_port = addr.host_port()
        assert host_port is not None
        host, port = host_port
        with trio.fail_after(20):
            for name in sorted(BAD):
                chain, key = BAD[name]()
                stream = await trio.open_tcp_stream(host, port)
                selected, buffered = await select_protocol(stream, ["/tls/1.0.0"])
                assert selected == "/tls/1.0.0"
                assert not await present_chain(buffered, chain, key), name
                await buffered.aclose()
            garbage = await trio.open_tcp_stream(host, port)
            _, buffered = await select_protocol(garbage, ["/tls/1.0.0"])
            await buffered.send_all(os.urandom(4096))
            await buffered.aclose()
            assert len(await ping_peer(client, addr, count=2)) == 2
        wrong = addr.without_peer_id().with_peer_id(ATTACKER.peer_id)
        with pytest.raises(DialError) as dial:
            await client.dial(wrong)
        assert any(isinstance(err, PeerIdMismatch) for _, err in dial.value.attempts), dial.value
