"""Sans-IO helpers: frame builders and two cores wired back to back (no trio)."""

from __future__ import annotations

from p2pstack.muxers.yamux.config import YamuxConfig
from p2pstack.muxers.yamux.core import YamuxCore
from p2pstack.muxers.yamux.events import YamuxEvent
from p2pstack.muxers.yamux.frames import Flag, FrameType, decode_header, encode_header
from p2pstack.role import Role

DATA, WU, PING, GO_AWAY = (
    FrameType.DATA,
    FrameType.WINDOW_UPDATE,
    FrameType.PING,
    FrameType.GO_AWAY,
)
SYN, ACK, FIN, RST = Flag.SYN, Flag.ACK, Flag.FIN, Flag.RST


def frame(ftype: FrameType, flags: int, sid: int, length: int, payload: bytes = b"") -> bytes:
    """One frame; for Data frames ``payload`` defaults to ``length`` bytes of b"d"."""
    if ftype == DATA and not payload:
        payload = b"d" * length
    return encode_header(ftype, flags, sid, length) + payload


def parse_frames(data: bytes) -> list[tuple[int, int, int, int, bytes]]:
    """Split bytes into (type, flags, stream id, length, payload) tuples."""
    frames = []
    pos = 0
    while pos < len(data):
        ftype, flags, sid, length = decode_header(data, pos)
        pos += 12
        payload = b""
        if ftype == DATA:
            payload = data[pos : pos + length]
            pos += length
        frames.append((int(ftype), int(flags), sid, length, payload))
    return frames


def sent(core: YamuxCore) -> list[tuple[int, int, int, int, bytes]]:
    """The frames ``core`` queued since the last call."""
    return parse_frames(b"".join(core.data_to_send()))


def take_ping(core: YamuxCore) -> None:
    """Drop the RTT ping every core queues at start."""
    assert sent(core) == [(PING, SYN, 0, 0, b"")]


class CorePair:
    """A client (initiator) and a server core connected by ``transfer`` calls."""

    def __init__(
        self, config: YamuxConfig | None = None, server_config: YamuxConfig | None = None
    ) -> None:
        self.now = 0.0
        self.client = YamuxCore(config, role=Role.INITIATOR, now=0.0)
        self.server = YamuxCore(server_config or config, role=Role.RESPONDER, now=0.0)

    def transfer(self, src: YamuxCore, dst: YamuxCore) -> list[YamuxEvent]:
        """Deliver everything ``src`` queued to ``dst``; return ``dst``'s events."""
        dst.receive_data(b"".join(src.data_to_send()), self.now)
        return dst.next_events()

    def settle(self) -> tuple[list[YamuxEvent], list[YamuxEvent]]:
        """Exchange frames until both sides are quiet; return (client, server) events."""
        client_events: list[YamuxEvent] = []
        server_events: list[YamuxEvent] = []
        for _ in range(10):
            out_c = b"".join(self.client.data_to_send())
            out_s = b"".join(self.server.data_to_send())
            if not out_c and not out_s:
                client_events += self.client.next_events()
                server_events += self.server.next_events()
                return client_events, server_events
            self.server.receive_data(out_c, self.now)
            self.client.receive_data(out_s, self.now)
            client_events += self.client.next_events()
            server_events += self.server.next_events()
        raise AssertionError("too many round trips")
