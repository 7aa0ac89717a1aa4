"""The contract between the node and the protocols and services plugged into it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import trio

if TYPE_CHECKING:
    from p2pstack.host.netstream import NetStream
    from p2pstack.host.node import Node

StreamHandler = Callable[["NetStream"], Awaitable[None]]
"""Serves one inbound stream; the node closes the stream when the handler returns."""


class Service(Protocol):
    """A protocol or background service (ping, identify, perf, discovery...).

    ``serve`` registers stream handlers and callbacks on ``node``, calls
    ``task_status.started()``, and then either returns or runs until cancelled when the node
    stops. Services are started in the order given, before the node listens.
    """

    async def serve(
        self, node: Node, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Attach to ``node`` and run."""
        ...
