"""The trio adapter between a NetStream and :class:`~.framing.FrameDecoder`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from stack.netstream import NetStream

    from .framing import FrameDecoder, FrameEvent

READ_CHUNK: Final = 65536


async def receive_frame(stream: NetStream, decoder: FrameDecoder) -> FrameEvent:
    """Read from ``stream`` until ``decoder`` yields its event; never reads past it.

    Raises:
        MessageTooLarge, MalformedMessage: from the decoder (the body is not read).
        trio.BrokenResourceError, trio.ClosedResourceError: from the stream.
    """
    while True:
        data = await stream.receive_some(min(decoder.wanted(), READ_CHUNK))
        events = decoder.receive_data(bytes(data) if data else None)
        if events:
            return events[0]
