"""The security-protocol contract, checked over every one we ship (see ``security.py``)."""

from __future__ import annotations

import hashlib
import os

import pytest
import trio
import trio.testing

from p2pstack.abc.security import SecureStream
from p2pstack.errors import HandshakeError, PeerIdMismatch
from p2pstack.identity import Identity, PeerId
from tests.conformance.security import SECURITY, RawPairMaker, SecurityUnderTest
from tests.helpers.streams import HalfCloseablePassthrough

CLIENT = Identity.generate()
SERVER = Identity.generate()

SecurePair = tuple[SecureStream, SecureStream]


@pytest.fixture(params=sorted(SECURITY))
def impl(request: pytest.FixtureRequest) -> SecurityUnderTest:
    return SECURITY[request.param]()


async def handshake(
    impl: SecurityUnderTest,
    left: trio.abc.Stream,
    right: trio.abc.Stream,
    expected: PeerId | None = SERVER.peer_id,
) -> SecurePair:
    """Both roles at once: ``left`` dials (expecting ``expected``), ``right`` listens."""
    results: dict[str, SecureStream] = {}

    async def outbound() -> None:
        results["out"] = await impl.security.secure_outbound(left, CLIENT, expected)

    async def inbound() -> None:
        results["in"] = await impl.security.secure_inbound(right, SERVER)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(outbound)
            nursery.start_soon(inbound)
    return results["out"], results["in"]


async def secure_pair(impl: SecurityUnderTest, raw_pair: RawPairMaker | None = None) -> SecurePair:
    return await handshake(impl, *await (raw_pair or impl.raw_pair)())


class Tamper(HalfCloseablePassthrough):
    """Passes bytes through; once ``armed``, flips the last bit of every send."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        super().__init__(inner)
        self.armed = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self.armed and data:
            changed = bytearray(data)
            changed[-1] ^= 1
            data = changed
        await self.inner.send_all(data)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        return bytes(await self.inner.receive_some(max_bytes))


async def test_handshake_names_both_ends(impl: SecurityUnderTest) -> None:
    out, inn = await secure_pair(impl)
    assert isinstance(out, SecureStream)
    assert isinstance(inn, SecureStream)
    assert (out.local_peer, out.remote_peer) == (CLIENT.peer_id, SERVER.peer_id)
    assert (inn.local_peer, inn.remote_peer) == (SERVER.peer_id, CLIENT.peer_id)
    assert out.remote_public_key == SERVER.public_key
    assert inn.remote_public_key == CLIENT.public_key
    await out.send_all(b"hello")
    assert await inn.receive_some() == b"hello"
    await inn.send_all(b"world")
    assert await out.receive_some() == b"world"
    await out.aclose()
    await inn.aclose()


async def test_unpinned_dial_accepts_whoever_answers(impl: SecurityUnderTest) -> None:
    out, inn = await handshake(impl, *await impl.raw_pair(), expected=None)
    assert out.remote_peer == SERVER.peer_id
    await out.aclose()
    await inn.aclose()


async def test_wrong_pinned_peer_fails_both_ends(impl: SecurityUnderTest) -> None:
    left, right = await impl.raw_pair()
    wrong = Identity.generate().peer_id

    async def inbound() -> None:
        with pytest.raises(HandshakeError):
            await impl.security.secure_inbound(right, SERVER)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(inbound)
            with pytest.raises(PeerIdMismatch):
                await impl.security.secure_outbound(left, CLIENT, wrong)
    with pytest.raises(trio.ClosedResourceError):  # the raw stream was closed
        await left.send_all(b"x")


async def test_garbage_instead_of_a_handshake_fails(impl: SecurityUnderTest) -> None:
    left, right = await impl.raw_pair()
    await left.send_all(os.urandom(64))
    await left.aclose()
    with trio.fail_after(30), pytest.raises(HandshakeError):
        await impl.security.secure_inbound(right, SERVER)


async def test_trio_stream_checks(impl: SecurityUnderTest) -> None:
    async def maker() -> SecurePair:
        return await secure_pair(impl)

    clogged = None
    if impl.clogged_raw_pair is not None:
        clogged_raw = impl.clogged_raw_pair

        async def clogged_maker() -> SecurePair:
            return await secure_pair(impl, clogged_raw)

        clogged = clogged_maker

    with trio.fail_after(60):
        await trio.testing.check_half_closeable_stream(maker, clogged)


async def test_tampered_bytes_break_the_stream(impl: SecurityUnderTest) -> None:
    left, right = await impl.raw_pair()
    tamper = Tamper(left)
    out, inn = await handshake(impl, tamper, right)
    await out.send_all(b"intact")
    assert await inn.receive_some() == b"intact"
    tamper.armed = True
    await out.send_all(b"tampered")
    with trio.fail_after(10), pytest.raises(trio.BrokenResourceError) as info:
        await inn.receive_some()
    assert info.value.__cause__ is not None
    tamper.armed = False
    await out.send_all(b"intact again, but too late")
    with pytest.raises(trio.BrokenResourceError):  # stays broken
        await inn.receive_some()
    await out.aclose()
    await inn.aclose()


async def test_large_transfers_both_ways_at_once(impl: SecurityUnderTest) -> None:
    size = 2 * 1024 * 1024
    out, inn = await secure_pair(impl)
    sent = {"out": os.urandom(size), "in": os.urandom(size)}
    got: dict[str, str] = {}

    async def send(stream: SecureStream, data: bytes) -> None:
        await stream.send_all(data)
        await stream.send_eof()

    async def receive(stream: SecureStream, name: str) -> None:
        digest = hashlib.sha256()
        while chunk := await stream.receive_some():
            digest.update(chunk)
        got[name] = digest.hexdigest()

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send, out, sent["out"])
            nursery.start_soon(send, inn, sent["in"])
            nursery.start_soon(receive, inn, "out")
            nursery.start_soon(receive, out, "in")
    assert got == {name: hashlib.sha256(data).hexdigest() for name, data in sent.items()}
    await out.aclose()
    await inn.aclose()
