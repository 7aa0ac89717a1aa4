"""Reading and writing hop and stop messages on a negotiated stream.

Reads are bounded by the 4096-byte relay limit and never consume bytes past the message:
whatever the peer sent after it stays in the stream's buffer for the circuit.
"""

from __future__ import annotations

from p2pstack.bufstream import BufferedStream
from p2pstack.protocols.relay.messages import (
    MAX_MESSAGE_SIZE,
    HopMessage,
    StopMessage,
    decode_hop,
    decode_stop,
    encode_hop,
    encode_stop,
)
from p2pstack.varint import length_prefixed


async def write_hop(stream: BufferedStream, message: HopMessage) -> None:
    """Send one delimited hop message."""
    await stream.send_all(length_prefixed(encode_hop(message)))


async def write_stop(stream: BufferedStream, message: StopMessage) -> None:
    """Send one delimited stop message."""
    await stream.send_all(length_prefixed(encode_stop(message)))


async def read_hop(stream: BufferedStream) -> HopMessage:
    """Receive one hop message. Raises RelayMessageError, MessageTooLarge, UnexpectedEOF."""
    return decode_hop(await stream.receive_length_prefixed(MAX_MESSAGE_SIZE))


async def read_stop(stream: BufferedStream) -> StopMessage:
    """Receive one stop message. Raises RelayMessageError, MessageTooLarge, UnexpectedEOF."""
    return decode_stop(await stream.receive_length_prefixed(MAX_MESSAGE_SIZE))
