"""The ``--dcutr`` option of ``p2pstack node``: hole punching over relayed connections."""

from __future__ import annotations

import argparse

from p2pstack.abc.transport import Transport
from p2pstack.cli.common import emit_json
from p2pstack.host.node import Node
from p2pstack.protocols.nat.dcutr import DCUtRService, HolePunchFailed, HolePunchSucceeded, dcutr


def add_dcutr_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dcutr`` (also the config-file key ``dcutr`` and ``P2PSTACK_DCUTR``)."""
    parser.add_argument(
        "--dcutr",
        action="store_true",
        help="upgrade relayed connections to direct ones by hole punching (DCUtR); TCP dials"
        " then leave from the listening port (port reuse), as hole punching needs",
    )


def dcutr_service(args: argparse.Namespace) -> DCUtRService | None:
    """The DCUtR service ``--dcutr`` asks for, or None."""
    return dcutr() if getattr(args, "dcutr", False) else None


def dcutr_transports(args: argparse.Namespace) -> list[Transport] | None:
    """The default transports with TCP port reuse under ``--dcutr``; None (the defaults)
    otherwise."""
    if not getattr(args, "dcutr", False):
        return None
    from p2pstack.protocols.relay.transport import circuit_relay
    from p2pstack.transports.dns import dns
    from p2pstack.transports.tcp import TcpConfig, tcp
    from p2pstack.transports.websocket import websocket

    return [dns([tcp(TcpConfig(reuse_port=True)), websocket()]), circuit_relay()]


async def report_hole_punches(node: Node) -> None:
    """Print ``{"event": "hole_punch", "peer", "ok", "addr"|"reason", "attempts"}`` lines."""
    with node.events.subscribe() as events:
        async for event in events:
            if isinstance(event, HolePunchSucceeded):
                emit_json({"event": "hole_punch", "peer": str(event.peer), "ok": True,
                           "addr": str(event.addr), "attempts": event.attempts,
                           "initiator": event.initiator})  # fmt: skip
            elif isinstance(event, HolePunchFailed):
                emit_json({"event": "hole_punch", "peer": str(event.peer), "ok": False,
                           "reason": event.reason, "attempts": event.attempts,
                           "initiator": event.initiator})  # fmt: skip
