"""The Yamux muxer factory."""

from __future__ import annotations

from typing import final

import trio

from p2pstack.abc.budget import MemoryBudget
from p2pstack.abc.muxer import StreamMuxer
from p2pstack.arguments import config_arg
from p2pstack.muxers.yamux.config import YamuxConfig
from p2pstack.muxers.yamux.session import YamuxSession
from p2pstack.role import Role

PROTOCOL_ID = "/yamux/1.0.0"


@final
class YamuxMuxer:
    """Creates :class:`YamuxSession` objects with one :class:`YamuxConfig`."""

    protocol_id: str = PROTOCOL_ID

    def __init__(self, config: YamuxConfig | None = None) -> None:
        self.config = config or YamuxConfig()

    def new_session(
        self, stream: trio.abc.Stream, *, role: Role, memory: MemoryBudget | None = None
    ) -> YamuxSession:
        """Wrap ``stream`` (must be called inside trio); start it with ``session.run``.

        ``role``: ``Role.INITIATOR`` on the side that dialled (it takes odd stream ids).

        ``memory``: the budget receive windows are reserved from (unlimited when None).
        """
        return YamuxSession(stream, role=role, config=self.config, memory=memory)


def yamux(config: YamuxConfig | None = None) -> StreamMuxer:
    """The Yamux muxer (``/yamux/1.0.0``) with ``config`` (defaults when None)."""
    return YamuxMuxer(config_arg(config, YamuxConfig, "yamux(config)"))
