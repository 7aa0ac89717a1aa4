"""The ``--dcutr`` option of ``p2pstack node`` and ``p2pstack ping xmpp:JID``: hole
punching over relayed connections."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import trio

from p2pstack.abc.transport import Transport
from p2pstack.cli.common import emit_json
from p2pstack.host.connection import Connection
from p2pstack.host.events import Event
from p2pstack.host.node import Node
from p2pstack.protocols.nat.dcutr import DCUtRService, HolePunchFailed, HolePunchSucceeded, dcutr
from p2pstack.protocols.ping import ping_peer

if TYPE_CHECKING:
    from p2pstack.protocols.discovery.xmpp.gater import XmppGater


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


async def punch_outcome(
    node: Node,
    events: trio.MemoryReceiveChannel[Event],
    conn: Connection,
    gater: XmppGater | None,
    wait: float,
) -> dict[str, Any]:
    """After a ping over the limited ``conn``: wait (``wait`` s at most) for the hole punch
    DCUtR runs on it, ping once over the direct connection it gave, and report both (with
    the XMPP gater's decision on the direct connection, when it made one) as JSON fields."""
    peer = conn.peer_id
    outcome: HolePunchSucceeded | HolePunchFailed | None = None
    with trio.move_on_after(wait):
        async for event in events:
            if isinstance(event, HolePunchSucceeded | HolePunchFailed) and event.peer == peer:
                outcome = event
                break
    if outcome is None:
        return {"hole_punch": {"ok": False, "reason": f"no outcome within {wait:g} s"}}
    if isinstance(outcome, HolePunchFailed):
        return {"hole_punch": {"ok": False, "reason": outcome.reason}}
    report: dict[str, Any] = {"hole_punch": {"ok": True, "addr": str(outcome.addr)}}
    direct = node.connection_to(peer)
    if direct is None or direct.limited:
        return report
    report["direct_addr"] = str(direct.remote_addr)
    report["direct_rtts_ms"] = [rtt * 1000 for rtt in await ping_peer(node, direct, count=1)]
    decision = next(
        (d for d in reversed(gater.decisions) if d.peer == peer and not d.relayed), None
    ) if gater is not None else None  # fmt: skip
    if decision is not None:
        report["gater"] = {"allowed": decision.allowed, "detail": decision.detail,
                           "remote_ip": decision.remote_ip}  # fmt: skip
    return report
