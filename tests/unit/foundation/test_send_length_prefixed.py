"""send_length_prefixed: the sending side of BufferedStream.receive_length_prefixed."""

from __future__ import annotations

import trio
import trio.testing

from p2pstack.bufstream import BufferedStream, send_length_prefixed
from p2pstack.varint import encode_uvarint


async def test_messages_round_trip() -> None:
    left, right = trio.testing.memory_stream_pair()
    messages = [b"", b"hello", bytes(range(256)) * 2]  # 0-, 1- and 2-byte prefixes
    for message in messages:
        await send_length_prefixed(left, message)
    await left.send_eof()
    reader = BufferedStream(right)
    assert [await reader.receive_length_prefixed(1024) for _ in messages] == messages
    assert await reader.receive_some() == b""


async def test_prefix_and_payload_go_in_one_send_all() -> None:
    stream = trio.testing.MemorySendStream()
    await send_length_prefixed(stream, memoryview(b"x" * 200))
    assert stream.get_data_nowait() == encode_uvarint(200) + b"x" * 200
    sent: list[bytes] = []

    class Recorder(trio.abc.SendStream):
        async def send_all(self, data: bytes | bytearray | memoryview) -> None:
            sent.append(bytes(data))

        async def wait_send_all_might_not_block(self) -> None:
            await trio.lowlevel.checkpoint()

        async def aclose(self) -> None:
            await trio.lowlevel.checkpoint()

    await send_length_prefixed(Recorder(), b"abc")
    assert sent == [b"\x03abc"]
