"""The trio adapter between a NetStream and :class:`~.framing.FrameDecoder`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from p2pstack.errors import LimitExceeded
from p2pstack.protocols.request_response.errors import MemoryRefused

if TYPE_CHECKING:
    from p2pstack.host.netstream import NetStream
    from p2pstack.protocols.request_response.framing import FrameDecoder, FrameEvent

READ_CHUNK: Final = 65536


async def receive_frame(stream: NetStream, decoder: FrameDecoder) -> FrameEvent:
    """Read from ``stream`` until ``decoder`` yields its event; never reads past it.

    Every byte buffered is reserved from the stream's resource scope first (released when
    the stream closes), so a peer's message can only be as large as the budget allows.

    Raises:
        BodyTooLarge, MalformedMessage: from the decoder (the body is not read).
        MemoryRefused: the resource manager would not hold the message.
        trio.BrokenResourceError, trio.ClosedResourceError: from the stream.
    """
    while True:
        data = await stream.receive_some(min(decoder.wanted(), READ_CHUNK))
        if data:
            try:
                stream.scope.reserve_memory(len(data))
            except LimitExceeded as exc:
                raise MemoryRefused(f"the message does not fit in memory: {exc}") from exc
        events = decoder.receive_data(bytes(data) if data else None)
        if events:
            return events[0]
