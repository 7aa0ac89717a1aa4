"""The transport contract, checked over every transport we ship (see ``transports.py``)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from p2pstack.abc.transport import RawConnection, TransportListener
from p2pstack.errors import TransportError
from p2pstack.multiaddr import Multiaddr
from tests.conformance.transports import KNOWN_DEFECTS, TRANSPORTS, TransportUnderTest

StreamPair = tuple[trio.abc.Stream, trio.abc.Stream]


def with_known_defects(*, strict: bool) -> list[object]:
    """Every transport; those in KNOWN_DEFECTS as expected failures.

    Strict for ``test_broken_stays_broken``, which shows a defect every time; not strict for
    trio's checks, which run into it only when a task switch falls the wrong way.
    """
    return [
        pytest.param(
            name, marks=pytest.mark.xfail(reason=KNOWN_DEFECTS[name], strict=strict), id=name
        )
        if name in KNOWN_DEFECTS
        else name
        for name in sorted(TRANSPORTS)
    ]


@pytest.fixture(params=sorted(TRANSPORTS))
async def impl(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TransportUnderTest]:
    async with TRANSPORTS[request.param](tmp_path) as under_test:
        yield under_test


@pytest.fixture
async def listener(impl: TransportUnderTest) -> AsyncIterator[TransportListener]:
    listener = await impl.listener.listen(impl.listen_addr)
    try:
        yield listener
    finally:
        await listener.aclose()


async def connect(
    impl: TransportUnderTest, listener: TransportListener
) -> tuple[RawConnection, RawConnection]:
    """Dial ``listener`` and accept the connection: (dialled, accepted)."""
    accepted: list[RawConnection] = []

    async def accept() -> None:
        raw = await listener.accept()
        await impl.accepted(raw.stream)
        accepted.append(raw)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept)
            dialled = await impl.dialer.dial(impl.dial_addr(listener))
    return dialled, accepted[0]


async def stream_pair(impl: TransportUnderTest, listener: TransportListener) -> StreamPair:
    dialled, accepted = await connect(impl, listener)
    return dialled.stream, accepted.stream


async def test_listen_reports_dialable_addresses(
    impl: TransportUnderTest, listener: TransportListener
) -> None:
    assert impl.listener.can_listen(impl.listen_addr)
    addrs = listener.listen_addrs
    assert addrs
    for addr in addrs:
        assert "/tcp/0/" not in f"{addr}/"
        assert addr != Multiaddr("/memory/0")
    assert impl.dialer.can_dial(impl.dial_addr(listener))
    assert not impl.dialer.can_dial(Multiaddr("/ip4/127.0.0.1/udp/1/quic-v1"))


async def test_dial_and_accept_name_both_ends(
    impl: TransportUnderTest, listener: TransportListener
) -> None:
    dialled, accepted = await connect(impl, listener)
    assert dialled.remote_addr.without_peer_id() == impl.dial_addr(listener).without_peer_id()
    if accepted.local_addr is not None:
        assert accepted.local_addr in listener.listen_addrs
    if dialled.local_addr is not None:
        assert accepted.remote_addr == dialled.local_addr
    await dialled.stream.send_all(b"ping")
    assert await accepted.stream.receive_some() == b"ping"
    await accepted.stream.send_all(b"pong")
    assert await dialled.stream.receive_some() == b"pong"
    await dialled.stream.aclose()
    await accepted.stream.aclose()


@pytest.mark.parametrize("impl", with_known_defects(strict=False), indirect=True)
async def test_trio_stream_checks(impl: TransportUnderTest, listener: TransportListener) -> None:
    async def maker() -> StreamPair:
        return await stream_pair(impl, listener)

    clogged = None
    if impl.clog is not None:
        clog = impl.clog

        async def clogged_maker() -> StreamPair:
            left, right = await maker()
            await clog(left, right)
            return left, right

        clogged = clogged_maker

    with trio.fail_after(60):
        if impl.half_closeable:
            await trio.testing.check_half_closeable_stream(maker, clogged)  # type: ignore[arg-type]
        else:
            await trio.testing.check_two_way_stream(maker, clogged)


async def test_large_transfers_both_ways_at_once(
    impl: TransportUnderTest, listener: TransportListener
) -> None:
    size = 4 * 1024 * 1024
    dialled, accepted = await connect(impl, listener)
    digests: dict[str, str] = {}

    async def send(stream: trio.abc.Stream, seed: int) -> None:
        block = bytes((i * seed) % 251 for i in range(65536))
        for _ in range(size // len(block)):
            await stream.send_all(block)

    async def receive(stream: trio.abc.Stream, name: str) -> None:
        digest = hashlib.sha256()
        got = 0
        while got < size:
            chunk = await stream.receive_some(1 << 20)
            assert chunk, "EOF before the end of the transfer"
            digest.update(chunk)
            got += len(chunk)
        digests[name] = digest.hexdigest()

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send, dialled.stream, 3)
            nursery.start_soon(send, accepted.stream, 7)
            nursery.start_soon(receive, accepted.stream, "to-listener")
            nursery.start_soon(receive, dialled.stream, "to-dialer")
    for name, seed in (("to-listener", 3), ("to-dialer", 7)):
        block = bytes((i * seed) % 251 for i in range(65536))
        assert digests[name] == hashlib.sha256(block * (size // len(block))).hexdigest()
    await dialled.stream.aclose()
    await accepted.stream.aclose()


async def test_close_is_seen_as_end_of_stream(
    impl: TransportUnderTest, listener: TransportListener
) -> None:
    dialled, accepted = await connect(impl, listener)
    await dialled.stream.send_all(b"last words")
    await dialled.stream.aclose()
    with trio.fail_after(10):
        assert await accepted.stream.receive_some() == b"last words"
        assert await accepted.stream.receive_some() == b""
    with pytest.raises(trio.ClosedResourceError):
        await dialled.stream.send_all(b"x")
    with pytest.raises(trio.ClosedResourceError):
        await dialled.stream.receive_some()
    await accepted.stream.aclose()
    await accepted.stream.aclose()  # idempotent


@pytest.mark.parametrize("impl", with_known_defects(strict=True), indirect=True)
async def test_broken_stays_broken(impl: TransportUnderTest, listener: TransportListener) -> None:
    """After the dialler closed, the accepted end's sends break, and stay broken."""
    dialled, accepted = await connect(impl, listener)
    await dialled.stream.aclose()

    async def send_until_broken() -> None:
        while True:
            await accepted.stream.send_all(b"x" * 100)

    with trio.fail_after(10), pytest.raises(trio.BrokenResourceError):
        await send_until_broken()
    await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(trio.BrokenResourceError):
        await accepted.stream.send_all(b"x" * 100)
    await accepted.stream.aclose()


async def test_dial_nothing_listening_is_a_transport_error(impl: TransportUnderTest) -> None:
    with trio.fail_after(30), pytest.raises(TransportError):
        await impl.dialer.dial(impl.unreachable)


async def test_closing_the_listener_ends_accept(impl: TransportUnderTest) -> None:
    listener = await impl.listener.listen(impl.listen_addr)
    errors: list[BaseException] = []

    async def accept() -> None:
        try:
            await listener.accept()
        except trio.ClosedResourceError as exc:
            errors.append(exc)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept)
            await trio.testing.wait_all_tasks_blocked()
            await listener.aclose()
    assert len(errors) == 1
    with pytest.raises(trio.ClosedResourceError):
        await listener.accept()
    await listener.aclose()  # idempotent
