"""Yamux (``/yamux/1.0.0``): a sans-IO core plus a trio adapter."""

from p2pstack.muxers.yamux.config import YamuxConfig as YamuxConfig
from p2pstack.muxers.yamux.core import YamuxCore as YamuxCore
from p2pstack.muxers.yamux.errors import (
    ConnectionLost as ConnectionLost,
    FrameDecodeError as FrameDecodeError,
    KeepAliveTimeout as KeepAliveTimeout,
    RemoteGoAway as RemoteGoAway,
    SessionClosed as SessionClosed,
    StreamIdError as StreamIdError,
    StreamResetError as StreamResetError,
    WindowExceededError as WindowExceededError,
    WriteTimeout as WriteTimeout,
    YamuxError as YamuxError,
    YamuxProtocolError as YamuxProtocolError,
)
from p2pstack.muxers.yamux.muxer import (
    PROTOCOL_ID as PROTOCOL_ID,
    YamuxMuxer as YamuxMuxer,
    yamux as yamux,
)
from p2pstack.muxers.yamux.session import YamuxSession as YamuxSession
from p2pstack.muxers.yamux.stream import YamuxStream as YamuxStream

__all__ = [
    "PROTOCOL_ID",
    "ConnectionLost",
    "FrameDecodeError",
    "KeepAliveTimeout",
    "RemoteGoAway",
    "SessionClosed",
    "StreamIdError",
    "StreamResetError",
    "WindowExceededError",
    "WriteTimeout",
    "YamuxConfig",
    "YamuxCore",
    "YamuxError",
    "YamuxMuxer",
    "YamuxSession",
    "YamuxStream",
    "yamux",
]
