"""CLI options for XMPP-presence discovery and UPnP, and ``p2pstack ping xmpp:JID``."""

from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import trio

from p2pstack.cli.common import console, emit_json, load_identity, ping_rounds
from p2pstack.errors import InvalidConfigError
from p2pstack.host.service import Service
from p2pstack.multiaddr import Multiaddr

if TYPE_CHECKING:
    from p2pstack.protocols.discovery.xmpp import Decision, Jid, P2PInfo, XmppDiscovery
    from p2pstack.protocols.nat import NatState, UpnpService

PASSWORD_ENV: Final = "P2PSTACK_XMPP_PASSWORD"
XMPP_PREFIX: Final = "xmpp:"


def add_xmpp_arguments(parser: argparse.ArgumentParser, *, client: bool = False) -> None:
    """The ``--xmpp-*`` and ``--upnp*`` options (``client``: those of ``ping xmpp:JID``)."""
    group = parser.add_argument_group("XMPP presence discovery and UPnP")
    group.add_argument("--xmpp-jid", metavar="JID", help="join XMPP as JID (bare or full)")
    group.add_argument(
        "--xmpp-password-file",
        type=Path,
        metavar="FILE",
        help=f"file holding the XMPP password (default: ${PASSWORD_ENV})",
    )
    group.add_argument(
        "--xmpp-server", metavar="HOST[:PORT]", help="XMPP server (default: the JID's domain:5222)"
    )
    group.add_argument("--xmpp-ca", type=Path, metavar="FILE", help="CA file to verify the server")
    group.add_argument(
        "--xmpp-allow-plaintext",
        action="store_true",
        help="unencrypted XMPP stream, no STARTTLS (local tests only)",
    )
    group.add_argument(
        "--xmpp-contact",
        action="append",
        metavar="JID",
        help="subscribe to JID's presence and approve its requests (repeatable)",
    )
    group.add_argument(
        "--xmpp-ip-rule",
        choices=("strict", "warn", "off"),
        default="strict",
        help="remote-IP rule for inbound connections (default strict)",
    )
    group.add_argument("--xmpp-local-ip", metavar="IP", help="locIp to publish")
    group.add_argument(
        "--xmpp-external", metavar="IP:PORT", help="external address to publish without UPnP"
    )
    group.add_argument("--upnp", action="store_true", help="map the listening port on the gateway")
    group.add_argument(
        "--upnp-root-url", metavar="URL", help="the gateway's root description URL (skips SSDP)"
    )
    group.add_argument("--upnp-lease", type=int, default=3600, help="mapping lease in seconds")
    if client:
        group.add_argument(
            "--xmpp-listen",
            action="append",
            metavar="MA",
            help="where the pinging node listens (default /ip4/0.0.0.0/tcp/0)",
        )
        group.add_argument(
            "--xmpp-wait", type=float, default=30.0, help="seconds to wait for presence and dial"
        )
        group.add_argument("--relay", metavar="MA", help="relay to fall back to")


@dataclass
class NodeExtras:
    """What the XMPP/UPnP options add to a node."""

    services: list[Service] = field(default_factory=list)
    """UPnP and XMPP discovery; the node adds the discovery's gater to its own."""
    discovery: XmppDiscovery | None = None
    upnp: UpnpService | None = None


def _password(args: argparse.Namespace) -> str:
    if args.xmpp_password_file is not None:
        try:
            return str(args.xmpp_password_file.read_text()).strip("\r\n")
        except OSError as exc:
            raise InvalidConfigError(f"cannot read the XMPP password file: {exc}") from exc
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise InvalidConfigError(f"--xmpp-jid needs --xmpp-password-file or ${PASSWORD_ENV}")
    return password


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidConfigError(f"expected IP:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def node_extras(args: argparse.Namespace, *, emit_events: bool = True) -> NodeExtras:
    """Build the UPnP and XMPP services the options ask for."""
    extras = NodeExtras()
    if getattr(args, "upnp", False) or getattr(args, "upnp_root_url", None):
        from p2pstack.protocols.nat import UpnpConfig, upnp

        extras.upnp = upnp(UpnpConfig(root_url=args.upnp_root_url, lease=args.upnp_lease))
        if emit_events:
            extras.upnp.add_callback(_emit_nat)
        extras.services.append(extras.upnp)
    if getattr(args, "xmpp_jid", None):
        from p2pstack.protocols.discovery.xmpp import DiscoveryConfig, GaterConfig, XmppConfig
        from p2pstack.protocols.discovery.xmpp.client import parse_server
        from p2pstack.protocols.discovery.xmpp.gater import IpRule

        xmpp = XmppConfig(
            jid=args.xmpp_jid,
            password=_password(args),
            server=parse_server(args.xmpp_server) if args.xmpp_server else None,
            ca_file=args.xmpp_ca,
            allow_plaintext=args.xmpp_allow_plaintext,
            contacts=tuple(args.xmpp_contact or ()),
        )
        config = DiscoveryConfig(
            xmpp=xmpp,
            gater=GaterConfig(ip_rule=IpRule(args.xmpp_ip_rule)),
            local_ip=args.xmpp_local_ip,
            external=_host_port(args.xmpp_external) if args.xmpp_external else None,
            relay=Multiaddr(args.relay) if getattr(args, "relay", None) else None,
        )
        from p2pstack.protocols.discovery.xmpp import xmpp_discovery

        kwargs: dict[str, Any] = {}
        if emit_events:
            kwargs = {"on_publish": _emit_publish, "on_decision": _emit_decision}
        extras.discovery = xmpp_discovery(config, **kwargs)
        extras.services.append(extras.discovery)
    return extras


def _p2p_json(p2p: P2PInfo | None) -> dict[str, Any] | None:
    if p2p is None:
        return None
    return {
        "extIp": p2p.ext_ip,
        "extPort": p2p.ext_port,
        "locIp": p2p.loc_ip,
        "locPort": p2p.loc_port,
    }


def _emit_publish(jid: Jid, p2p: P2PInfo | None) -> None:
    if p2p is not None:
        emit_json({"event": "xmpp_published", "jid": str(jid), "p2p": _p2p_json(p2p)})


def _emit_decision(decision: Decision) -> None:
    emit_json(
        {
            "event": "xmpp_inbound",
            "allowed": decision.allowed,
            "stage": decision.stage,
            "reason": str(decision.reason) if decision.reason else None,
            "detail": decision.detail,
            "remote_ip": decision.remote_ip,
            "peer_id": str(decision.peer) if decision.peer else None,
            "jid": str(decision.jid) if decision.jid else None,
        }
    )


def _emit_nat(state: NatState) -> None:
    emit_json(
        {
            "event": "upnp",
            "lan_ip": state.lan_ip,
            "external_ip": state.external_ip,
            "mappings": [
                {"external_port": m.external_port, "internal": f"{m.internal_ip}:{m.internal_port}"}
                for m in state.mappings
            ],
            "error": f"{type(state.error).__name__}: {state.error}" if state.error else None,
        }
    )


async def _settle_upnp(upnp: UpnpService) -> None:
    state = upnp.state
    while not state.mappings and state.error is None:
        state = await upnp.wait_changed(state.version)


async def cmd_xmpp_ping(args: argparse.Namespace) -> int:
    """``p2pstack ping xmpp:JID``: join XMPP, wait for JID's presence, dial it, ping it."""
    from p2pstack.cli.dcutr import dcutr_service, dcutr_transports, punch_outcome
    from p2pstack.compose import open_node
    from p2pstack.protocols.discovery.xmpp import ContactError, Jid
    from p2pstack.protocols.identify import identify
    from p2pstack.protocols.ping import ping

    if not args.xmpp_jid:
        raise InvalidConfigError("pinging xmpp:JID needs --xmpp-jid (and a password)")
    target = Jid.parse(args.addr.removeprefix(XMPP_PREFIX))
    extras = node_extras(args, emit_events=False)
    disco = extras.discovery
    assert disco is not None
    punch = dcutr_service(args)  # --dcutr: a relayed contact may be upgraded to direct
    with contextlib.ExitStack() as stack:
        async with open_node(
            identity=load_identity(args.key),
            transports=dcutr_transports(args),
            protocols=[ping(), identify()],
            services=[*extras.services, *([punch] if punch is not None else [])],
        ) as node:
            # Before dialling: a hole punch may follow the relayed connection at once.
            events = stack.enter_context(node.events.subscribe())
            for addr in args.xmpp_listen or ["/ip4/0.0.0.0/tcp/0"]:
                await node.listen(Multiaddr(addr))
            deadline = trio.current_time() + args.xmpp_wait
            with trio.fail_after(args.xmpp_wait):
                await disco.wait_online()
                if extras.upnp is not None:
                    await _settle_upnp(extras.upnp)
            start = trio.current_time()
            last: ContactError | None = None
            result = None
            while result is None:
                remaining = deadline - trio.current_time()
                if remaining <= 0:
                    assert last is not None
                    raise last
                try:
                    result = await disco.dial(target, wait=remaining)
                except ContactError as exc:  # e.g. our presence has not reached them yet
                    last = exc
                    with trio.move_on_after(min(1.0, max(0.0, deadline - trio.current_time()))):
                        await disco.directory.wait_changed(disco.directory.snapshot.version)
            conn = result.connection
            connect_ms = (trio.current_time() - start) * 1000
            if not args.json:
                console.print(
                    f"connected to [bold]{result.contact.jid}[/] ({conn.peer_id}) at {result.kind} "
                    f"address {result.addr} in {connect_ms:.2f} ms"
                )
            rtts = await ping_rounds(node, conn, args, peer=str(result.contact.jid))
            punched: dict[str, Any] = {}
            if punch is not None and conn.limited:
                punched = await punch_outcome(node, events, conn, disco.gater, args.xmpp_wait)
                if not args.json:
                    console.print(f"hole punch: {punched}")
            if args.json:
                emit_json(
                    {
                        "jid": str(result.contact.jid),
                        "peer_id": str(conn.peer_id),
                        "addr": str(result.addr),
                        "kind": result.kind,
                        "remote_addr": str(conn.remote_addr),
                        "connect_ms": connect_ms,
                        "rtts_ms": rtts,
                        **punched,
                    }
                )
    return 0
