"""Chat: two nodes exchange length-prefixed lines over a protocol of their own.

Each message is ``uvarint(len) || utf-8 text`` (the framing most libp2p protocols use):
:func:`p2pstack.bufstream.send_length_prefixed` writes one, and the stream's
``receive_length_prefixed(max_size)`` reads one, refusing anything larger than ``max_size``.

Run: ``python examples/chat.py`` (two nodes on 127.0.0.1; exits after the conversation).
"""

from __future__ import annotations

import trio

from p2pstack import NetStream, open_node
from p2pstack.bufstream import send_length_prefixed
from p2pstack.errors import UnexpectedEOF

CHAT = "/example/chat/1.0.0"
MAX_LINE = 4096
LINES = ["hello Bob", "how are you?", "bye"]


async def bob_answers(stream: NetStream) -> None:
    """Bob's side: answer each line until Alice closes her side."""
    while True:
        try:
            line = (await stream.receive_length_prefixed(MAX_LINE)).decode()
        except UnexpectedEOF:  # Alice closed her side (here: between two messages)
            break
        print(f"bob   <- {line!r}")
        await send_length_prefixed(stream, f"you said {len(line)} characters".encode())
    await stream.aclose()


async def main() -> None:
    async with (
        open_node(listen=["/ip4/127.0.0.1/tcp/0"]) as bob,
        open_node() as alice,
    ):
        bob.set_stream_handler(CHAT, bob_answers)
        stream = await alice.new_stream(bob.addrs[0], CHAT)
        for line in LINES:
            await send_length_prefixed(stream, line.encode())
            answer = (await stream.receive_length_prefixed(MAX_LINE)).decode()
            print(f"alice <- {answer!r}")
        await stream.send_eof()
        await stream.aclose()
    print("chat done")


if __name__ == "__main__":
    trio.run(main)
