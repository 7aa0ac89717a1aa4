"""The service boundary: :func:`serve_service`, how the node runs each protocol and service."""

from __future__ import annotations

import trio

from p2pstack.host.boundary import StartedFlag
from p2pstack.host.context import NodeContext
from p2pstack.host.service import Service


async def serve_service(
    service: Service,
    node: NodeContext,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``service.serve(node)`` until it returns.

    A service failing to start raises (a local configuration error, for ``nursery.start`` to
    re-raise); once started, its failures are contained by ``node.faults`` (boundary
    ``"service:<class name>"``: logged, counted, an event).
    """
    status = StartedFlag(task_status)
    try:
        await service.serve(node, task_status=status)
    except BaseException:
        if not status.started_called:
            raise
        with node.faults.contain(f"service:{type(service).__name__}"):
            raise
