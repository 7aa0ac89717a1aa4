"""NoiseStream and the /noise transport over trio streams: what is particular to Noise.

The security contract (both roles, pinning, trio's stream checks, tampering, large
transfers) is checked by tests/conformance/test_security.py.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from p2pstack.errors import HandshakeError, UnexpectedEOF
from p2pstack.identity import Identity, KeyType
from p2pstack.role import Role
from p2pstack.security import NoiseConfig, SecureStream, SecurityTransport, noise
from p2pstack.security.noise import NoiseDecryptError, NoiseHandshake, NoiseStream
from p2pstack.security.noise.framing import MAX_PLAINTEXT_LEN
from p2pstack.transports.tcp_stream import TcpStream
from tests.helpers.streams import HalfCloseablePassthrough, Passthrough

IDENTITIES: dict[KeyType, Identity] = {}


def ident(kt: KeyType = KeyType.ED25519) -> Identity:
    if kt not in IDENTITIES:
        IDENTITIES[kt] = Identity.generate(kt)
    return IDENTITIES[kt]


SERVER = Identity.generate()


async def secure_pair(
    left: trio.abc.Stream,
    right: trio.abc.Stream,
    client: Identity | None = None,
    server: Identity | None = None,
    transport: SecurityTransport | None = None,
) -> tuple[NoiseStream, NoiseStream]:
    """Handshake concurrently over ``left`` (initiator) and ``right`` (responder)."""
    t = transport or noise()
    client = client or ident()
    server = server or SERVER
    results: dict[str, SecureStream] = {}

    async def outbound() -> None:
        results["out"] = await t.secure_outbound(left, client, server.peer_id)

    async def inbound() -> None:
        results["in"] = await t.secure_inbound(right, server)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(outbound)
            nursery.start_soon(inbound)
    out, inn = results["out"], results["in"]
    assert isinstance(out, NoiseStream)
    assert isinstance(inn, NoiseStream)
    return out, inn


async def memory_pair() -> tuple[NoiseStream, NoiseStream]:
    return await secure_pair(*trio.testing.memory_stream_pair())


async def trio_socket_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    listener = listeners[0]
    port = listener.socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listener.accept()
    await listener.aclose()
    return client, server


async def tcp_socket_pair() -> tuple[TcpStream, TcpStream]:
    """The TCP transport's streams (receive_into, atomic sends)."""
    client, server = await trio_socket_pair()
    return TcpStream.from_trio(client), TcpStream.from_trio(server)


async def tcp_pair() -> tuple[NoiseStream, NoiseStream]:
    return await secure_pair(*await tcp_socket_pair())


async def trio_tcp_pair() -> tuple[NoiseStream, NoiseStream]:
    return await secure_pair(*await trio_socket_pair())


@pytest.mark.parametrize("make_pair", [tcp_pair, trio_tcp_pair, memory_pair])
async def test_atomic_send_completes_when_cancelled(make_pair: object) -> None:
    """send_all_atomic in a cancelled scope still delivers every byte, whether the transport
    has atomic sends (TCP) or the send is shielded (other streams)."""
    assert callable(make_pair)
    out, inn = await make_pair()
    assert out.cancel_safe_receive is (make_pair is tcp_pair)
    payload = bytes(range(256)) * 20_000  # more than the socket buffers hold
    got = bytearray()

    async def receive() -> None:
        while len(got) < len(payload):
            got.extend(await inn.receive_some())

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            with trio.CancelScope() as scope:
                scope.cancel()
                await out.send_all_atomic(payload)
    assert got == payload
    await out.send_all(b"still usable")
    assert await inn.receive_some() == b"still usable"
    await out.aclose()
    await inn.aclose()


async def test_peers_and_keys_are_exposed() -> None:
    client = ident(KeyType.SECP256K1)
    out, inn = await secure_pair(*trio.testing.memory_stream_pair(), client=client)
    assert out.local_peer == client.peer_id
    assert out.remote_peer == SERVER.peer_id
    assert inn.local_peer == SERVER.peer_id
    assert inn.remote_peer == client.peer_id
    assert inn.remote_public_key == client.public_key
    assert noise().protocol_id == "/noise"


@pytest.mark.parametrize("client_kt", list(KeyType))
@pytest.mark.parametrize("server_kt", [KeyType.ED25519, KeyType.RSA, KeyType.ECDSA])
async def test_all_identity_types_over_tcp(client_kt: KeyType, server_kt: KeyType) -> None:
    server = Identity.generate(server_kt) if server_kt is not KeyType.RSA else ident(KeyType.RSA)
    out, inn = await secure_pair(*await tcp_socket_pair(), client=ident(client_kt), server=server)
    payload = bytes(range(256)) * 1000
    async with trio.open_nursery() as nursery:
        nursery.start_soon(out.send_all, payload)
        got = bytearray()
        while len(got) < len(payload):
            got += await inn.receive_some()
    assert got == payload
    await inn.send_all(b"pong")
    assert await out.receive_some() == b"pong"
    await out.aclose()
    assert await inn.receive_some() == b""
    await inn.aclose()


async def test_reused_buffers_never_alter_data_already_handed_out() -> None:
    """Over TCP the stream reads into and encrypts from reused buffers: results kept without
    copying, and later sends of other data, must not change what was received before."""
    out, inn = await tcp_pair()
    messages = [bytes([i]) * (1 + i * 7919 % 200_000) for i in range(40)]
    kept: list[bytes | bytearray] = []

    async def send() -> None:
        for message in messages:
            await out.send_all(message)
        await out.send_eof()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        while chunk := await inn.receive_some():
            kept.append(chunk)
    assert b"".join(kept) == b"".join(messages)
    await out.aclose()
    await inn.aclose()


async def test_handshake_timeout(autojump_clock: trio.testing.MockClock) -> None:
    left, _right = trio.testing.memory_stream_pair()
    t = noise(NoiseConfig(handshake_timeout=5))
    with pytest.raises(HandshakeError, match="timed out") as info:
        await t.secure_outbound(left, ident(), None)  # nobody answers
    assert isinstance(info.value.__cause__, trio.TooSlowError)
    with pytest.raises(trio.ClosedResourceError):
        await left.receive_some()


async def test_eof_during_handshake() -> None:
    left, right = trio.testing.memory_stream_pair()
    await right.aclose()
    with pytest.raises(HandshakeError) as info:
        await noise().secure_outbound(left, ident(), None)
    cause = info.value.__cause__
    assert isinstance(cause, UnexpectedEOF | trio.BrokenResourceError)


async def test_peer_closes_after_msg1() -> None:
    left, right = trio.testing.memory_stream_pair()

    async def rude_responder() -> None:
        await right.receive_some()
        await right.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(rude_responder)
        with pytest.raises(HandshakeError) as info:
            await noise().secure_outbound(left, ident(), None)
    assert isinstance(info.value.__cause__, UnexpectedEOF)


async def test_garbage_handshake_message_over_the_wire() -> None:
    left, right = trio.testing.memory_stream_pair()
    await left.send_all(b"\x00\x05hello")
    with pytest.raises(HandshakeError):
        await noise().secure_inbound(right, SERVER)
    with pytest.raises(trio.ClosedResourceError):
        await right.receive_some()


def test_config_validation() -> None:
    from p2pstack.errors import InvalidConfigError

    with pytest.raises(InvalidConfigError):
        NoiseConfig(handshake_timeout=0)
    with pytest.raises(InvalidConfigError):
        NoiseConfig(handshake_timeout=float("inf"))
    with pytest.raises(InvalidConfigError):
        NoiseConfig(receive_size=10)
    assert NoiseConfig().handshake_timeout == 10.0


class PrefixedStream(HalfCloseablePassthrough):
    """A buffered wrapper like the node's: returns ``prefix`` before reading the inner stream."""

    def __init__(self, inner: trio.abc.HalfCloseableStream, prefix: bytes) -> None:
        super().__init__(inner)
        self.prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        if self.prefix:
            n = len(self.prefix) if max_bytes is None else max_bytes
            out, self.prefix = self.prefix[:n], self.prefix[n:]
            await trio.lowlevel.checkpoint()
            return out
        return await self.inner.receive_some(max_bytes)


async def test_bytes_after_the_last_handshake_message_are_not_lost() -> None:
    """msg3 and the first transport frames arrive in one read, partly pre-buffered."""
    left, right = trio.testing.memory_stream_pair()
    client = NoiseHandshake(ident(), role=Role.INITIATOR)
    msg1 = client.data_to_send()

    async def remote_initiator() -> None:
        client.receive_data(await left.receive_some())  # msg2
        assert client.complete
        from p2pstack.security.noise import FrameEncryptor

        enc = FrameEncryptor(client.result.send_key)
        frames = enc.encrypt(b"first") + enc.encrypt(b"") + enc.encrypt(b"x" * 70000)
        await left.send_all(client.data_to_send() + frames)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(remote_initiator)
        # the multistream layer already read msg1 plus a few bytes more: here, all of msg1
        stream = await noise().secure_inbound(PrefixedStream(right, msg1), SERVER)
    got = bytearray()
    while len(got) < 70005:
        got += await stream.receive_some()
    assert got == b"first" + b"x" * 70000
    assert stream.remote_peer == ident().peer_id


async def test_large_send_is_one_underlying_send_all() -> None:
    left, right = trio.testing.memory_stream_pair()
    calls: list[int] = []
    out, inn = await secure_pair(left, right)
    original = left.send_stream.send_all

    async def counting_send_all(data: bytes | bytearray | memoryview) -> None:
        calls.append(len(data))
        await original(data)

    left.send_stream.send_all = counting_send_all  # type: ignore[method-assign]
    payload = b"z" * (5 * MAX_PLAINTEXT_LEN + 17)
    await out.send_all(payload)
    assert calls == [len(payload) + 6 * 18]
    got = bytearray()
    while len(got) < len(payload):
        got += await inn.receive_some()
    assert got == payload


async def test_small_max_bytes_buffers_the_rest() -> None:
    out, inn = await memory_pair()
    await out.send_all(b"abcdefghij")
    assert await inn.receive_some(3) == b"abc"
    assert await inn.receive_some(4) == b"defg"
    assert await inn.receive_some() == b"hij"


async def test_zero_length_frames_do_not_look_like_eof() -> None:
    out, inn = await memory_pair()
    tag_only = out._encryptor._aead.encrypt(b"\x00" * 4 + (0).to_bytes(8, "little"), b"", None)
    out._encryptor.nonce = 1
    await out.transport_stream.send_all(b"\x00\x10" + tag_only)
    await out.send_all(b"data")
    assert await inn.receive_some() == b"data"


async def test_corrupt_frame_breaks_the_stream() -> None:
    out, inn = await memory_pair()
    await out.transport_stream.send_all(b"\x00\x20" + b"\x01" * 32)
    with pytest.raises(trio.BrokenResourceError) as info:
        await inn.receive_some()
    assert isinstance(info.value.__cause__, NoiseDecryptError)
    await out.send_all(b"valid but too late")
    with pytest.raises(trio.BrokenResourceError):  # sticky
        await inn.receive_some()
    await inn.send_all(b"sending still works")
    assert await out.receive_some() == b"sending still works"


async def test_eof_inside_a_frame_breaks_the_stream() -> None:
    out, inn = await memory_pair()
    frame = out._encryptor.encrypt(b"hello")
    await out.transport_stream.send_all(frame[:-3])
    await out.transport_stream.send_eof()  # type: ignore[attr-defined]
    with pytest.raises(trio.BrokenResourceError) as info:
        await inn.receive_some()
    assert isinstance(info.value.__cause__, UnexpectedEOF)


async def test_eof_after_complete_frames_is_clean() -> None:
    out, inn = await memory_pair()
    await out.send_all(b"bye")
    await out.send_eof()
    assert await inn.receive_some() == b"bye"
    assert await inn.receive_some() == b""
    assert await inn.receive_some() == b""
    await inn.send_all(b"half-closed reply")
    assert await out.receive_some() == b"half-closed reply"


async def test_send_eof_needs_a_half_closeable_transport() -> None:
    s1, s2 = trio.testing.memory_stream_pair()

    out, inn = await secure_pair(Passthrough(s1), s2)  # no send_eof
    with pytest.raises(trio.BrokenResourceError):
        await out.send_eof()
    await out.send_all(b"still usable")
    assert await inn.receive_some() == b"still usable"
    await out.aclose()
    await inn.aclose()


async def test_cancelled_send_breaks_only_the_send_side() -> None:
    s1, s2 = trio.testing.lockstep_stream_pair()
    out, inn = await secure_pair(s1, s2)
    with trio.move_on_after(0.05):
        await out.send_all(b"never received")  # lockstep: blocks until the peer reads
    with pytest.raises(trio.BrokenResourceError):
        await out.send_all(b"more")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(inn.send_all, b"reverse")
        assert await out.receive_some() == b"reverse"


async def test_nonce_exhaustion_breaks_the_stream() -> None:
    from p2pstack.security.noise import NoiseNonceExhausted
    from p2pstack.security.noise.cipher import MAX_NONCE

    out, inn = await memory_pair()
    out._encryptor.nonce = MAX_NONCE  # all usable nonces spent
    with pytest.raises(trio.BrokenResourceError) as info:
        await out.send_all(b"one too many")
    assert isinstance(info.value.__cause__, NoiseNonceExhausted)
    with pytest.raises(trio.BrokenResourceError):
        await out.send_all(b"still broken")
    out._decryptor.nonce = MAX_NONCE
    await inn.transport_stream.send_all(b"\x00\x10" + b"\x00" * 16)
    with pytest.raises(trio.BrokenResourceError) as info:
        await out.receive_some()
    assert isinstance(info.value.__cause__, NoiseNonceExhausted)


async def test_idle_stream_keeps_no_receive_buffer() -> None:
    """Over TCP a busy stream reads into a kept buffer (grown while reads fill it); after a
    small read it waits for the next one without any, so idle connections hold no buffer."""
    out, inn = await tcp_pair()
    assert inn.kept_receive_buffer == 0
    received = 0
    async with trio.open_nursery() as nursery:
        nursery.start_soon(out.send_all, b"x" * 2_000_000)
        while received < 2_000_000:
            received += len(await inn.receive_some())
    assert inn.kept_receive_buffer >= 64 * 1024  # the bulk transfer used a kept buffer
    await out.send_all(b"ping")
    assert await inn.receive_some() == b"ping"
    assert inn.kept_receive_buffer == 0
    await out.send_all(b"pong")  # and reads without a kept buffer still work
    assert await inn.receive_some() == b"pong"
    assert inn.kept_receive_buffer == 0
    await out.aclose()
    assert await inn.receive_some() == b""
    await inn.aclose()
