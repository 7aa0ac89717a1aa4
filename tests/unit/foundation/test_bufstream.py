from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given, settings, strategies as st

from p2pstack.bufstream import BufferedStream
from p2pstack.errors import MessageTooLarge, UnexpectedEOF, VarintError
from p2pstack.varint import encode_uvarint, length_prefixed


async def _pair(initial: bytes = b"") -> tuple[BufferedStream, trio.abc.HalfCloseableStream]:
    left, right = trio.testing.memory_stream_pair()
    return BufferedStream(left, initial), right


async def test_initial_bytes_come_first() -> None:
    buffered, peer = await _pair(b"abc")
    await peer.send_all(b"def")
    assert await buffered.receive_exactly(4) == b"abcd"
    assert await buffered.receive_some() == b"ef"


async def test_leftover_stays_for_the_next_reader() -> None:
    buffered, peer = await _pair()
    await peer.send_all(length_prefixed(b"msg") + b"next layer")
    assert await buffered.receive_length_prefixed(16) == b"msg"
    assert buffered.take_buffer() == b"next layer"


async def test_oversized_prefix_rejected_before_reading_body() -> None:
    buffered, peer = await _pair()
    await peer.send_all(encode_uvarint(1 << 30))
    with pytest.raises(MessageTooLarge):
        await buffered.receive_length_prefixed(4096)


async def test_eof_mid_message() -> None:
    buffered, peer = await _pair()
    await peer.send_all(b"\x05ab")
    await peer.send_eof()
    with pytest.raises(UnexpectedEOF):
        await buffered.receive_length_prefixed(16)


async def test_receive_until_eof_bounded() -> None:
    buffered, peer = await _pair()
    await peer.send_all(b"x" * 100)
    await peer.send_eof()
    with pytest.raises(MessageTooLarge):
        await buffered.receive_until_eof(50)
    buffered, peer = await _pair(b"ab")
    await peer.send_all(b"cd")
    await peer.send_eof()
    assert await buffered.receive_until_eof(4) == b"abcd"


async def test_receive_some_validates_max_bytes() -> None:
    buffered, _ = await _pair(b"abc")
    with pytest.raises(ValueError, match=">= 1"):
        await buffered.receive_some(0)
    assert await buffered.receive_some(2) == b"ab"


async def test_unread_puts_bytes_back() -> None:
    buffered, _ = await _pair(b"world")
    buffered.unread(b"hello ")
    assert await buffered.receive_exactly(11) == b"hello world"


async def test_concurrent_receives_are_busy() -> None:
    buffered, _ = await _pair()
    with pytest.RaisesGroup(trio.BusyResourceError):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(buffered.receive_some)
            nursery.start_soon(buffered.receive_some)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_give_messages_or_typed_errors(data: bytes) -> None:
    async def run() -> None:
        buffered, peer = await _pair()
        await peer.send_all(data)
        await peer.send_eof()
        while True:
            try:
                await buffered.receive_length_prefixed(16)
            except (UnexpectedEOF, VarintError, MessageTooLarge):
                return

    trio.run(run)


async def test_unwrapped_is_the_stream_below_once_the_read_ahead_is_consumed() -> None:
    buffered, peer = await _pair(b"ab")
    assert buffered.unwrapped() is buffered  # read-ahead bytes still to serve
    assert await buffered.receive_some() == b"ab"
    assert buffered.unwrapped() is buffered.stream
    await peer.send_all(b"cd")
    assert await buffered.receive_some() == b"cd"  # reads pass through: nothing to keep


async def test_unwrapped_keeps_the_wrapper_after_a_framed_read_hit_eof() -> None:
    buffered, peer = await _pair()
    await peer.send_eof()
    with pytest.raises(UnexpectedEOF):
        await buffered.receive_exactly(4)
    assert buffered.unwrapped() is buffered
