"""Composition with defaults: :func:`open_node`, and what it picks when you pass nothing.

This module (with the CLI) is the only part of the core that imports transports, muxers and
protocols; the host below it knows only their interfaces (:mod:`p2pstack.abc`,
:mod:`p2pstack.host.service`). Every argument is checked here: a bad one raises
:class:`~p2pstack.errors.InvalidConfigError` naming it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

from p2pstack.abc.muxer import StreamMuxer
from p2pstack.abc.transport import Transport
from p2pstack.arguments import config_arg, has_methods, instance_arg, sequence_arg
from p2pstack.errors import InvalidConfigError, MultiaddrError
from p2pstack.host.config import NodeConfig
from p2pstack.host.gater import Gater
from p2pstack.host.node import Node, run_node
from p2pstack.host.service import Service
from p2pstack.identity import Identity
from p2pstack.multiaddr import Multiaddr
from p2pstack.security import SecurityTransport

T = TypeVar("T")

_TRANSPORT_METHODS = ("can_dial", "can_listen", "dial", "listen")
_SECURITY_METHODS = ("secure_inbound", "secure_outbound")
_MUXER_METHODS = ("new_session",)
_SERVICE_METHODS = ("serve",)


def default_transports() -> list[Transport]:
    """``[dns([tcp(), websocket(), quic()]), circuit_relay()]``: names resolved, then TCP,
    WebSocket or QUIC v1; relayed addresses through the relay transport."""
    from p2pstack.protocols.relay.transport import circuit_relay
    from p2pstack.transports.dns import dns
    from p2pstack.transports.quic import quic
    from p2pstack.transports.tcp import tcp
    from p2pstack.transports.websocket import websocket

    return [dns([tcp(), websocket(), quic()]), circuit_relay()]


def default_security() -> list[SecurityTransport]:
    """``[noise()]``."""
    from p2pstack.security.noise import noise

    return [noise()]


def default_muxers() -> list[StreamMuxer]:
    """``[yamux()]``."""
    from p2pstack.muxers.yamux import yamux

    return [yamux()]


def default_protocols() -> list[Service]:
    """``[ping(), identify()]``."""
    from p2pstack.protocols.identify import identify
    from p2pstack.protocols.ping import ping

    return [ping(), identify()]


def _plugins(
    value: Iterable[T] | None, where: str, methods: Sequence[str], what: str
) -> list[T] | None:
    items = sequence_arg(value, where)
    for i, item in enumerate(items or ()):
        has_methods(item, methods, f"{where}[{i}]", what)
    return items


def _listen_addrs(listen: Iterable[Multiaddr | str]) -> list[Multiaddr]:
    out: list[Multiaddr] = []
    for i, addr in enumerate(sequence_arg(listen, "open_node(listen)") or ()):
        if isinstance(addr, Multiaddr):
            out.append(addr)
            continue
        if not isinstance(addr, str):
            raise InvalidConfigError(
                f"open_node(listen)[{i}]: expected a Multiaddr or a string, "
                f"got {type(addr).__name__}"
            )
        try:
            out.append(Multiaddr(addr))
        except MultiaddrError as exc:
            raise InvalidConfigError(f"open_node(listen)[{i}]: {exc}") from exc
    return out


@asynccontextmanager
async def open_node(
    *,
    identity: Identity | None = None,
    listen: Iterable[Multiaddr | str] = (),
    transports: Sequence[Transport] | None = None,
    security: Sequence[SecurityTransport] | None = None,
    muxers: Sequence[StreamMuxer] | None = None,
    protocols: Sequence[Service] | None = None,
    services: Sequence[Service] = (),
    gater: Gater | None = None,
    config: NodeConfig | None = None,
) -> AsyncIterator[Node]:
    """Start a node; it stops (gracefully, then by cancellation) when the block exits.

    Args:
        identity: the node's key pair; a fresh Ed25519 identity when omitted.
        listen: addresses to listen on once the protocols and services are up.
        transports: in preference order; default :func:`default_transports`
            (``[dns([tcp(), websocket(), quic()]), circuit_relay()]``). Wrap transports in
            :func:`p2pstack.transports.dns.dns` to dial ``/dns*`` and ``/dnsaddr`` addresses.
        security: in preference order; default ``[noise()]``.
        muxers: in preference order; default ``[yamux()]``.
        protocols: stream handlers such as ``ping()``, ``identify()``, ``echo()``, ``perf()``,
            ``request_response(...)``; default ``[ping(), identify()]`` (pass ``[]`` for none).
        services: long-running services such as ``mdns()``, ``upnp()``, ``auto_relay()``,
            ``xmpp_discovery(...)``, ``relay_server()``; started after the protocols. A
            service that polices connections (XMPP discovery) adds its gater to the node's.
        gater: connection policy, asked before the services' gaters; default allows everything.
        config: timeouts and limits; see :class:`~p2pstack.host.config.NodeConfig`.

    Raises:
        InvalidConfigError: an argument is of the wrong kind (the message names it).
    """
    ident = Identity.generate() if identity is None else identity
    instance_arg(ident, Identity, "open_node(identity)")
    addrs = _listen_addrs(listen)
    chosen_transports = _plugins(
        transports, "open_node(transports)", _TRANSPORT_METHODS, "a transport"
    )
    chosen_security = _plugins(
        security, "open_node(security)", _SECURITY_METHODS, "a security transport"
    )
    chosen_muxers = _plugins(muxers, "open_node(muxers)", _MUXER_METHODS, "a stream muxer")
    chosen_protocols = _plugins(
        protocols, "open_node(protocols)", _SERVICE_METHODS, "a protocol (ping(), identify()...)"
    )
    chosen_services = _plugins(
        services, "open_node(services)", _SERVICE_METHODS, "a service (mdns(), upnp()...)"
    )
    if gater is not None:
        instance_arg(gater, Gater, "open_node(gater)")
    node_config = config_arg(config, NodeConfig, "open_node(config)")
    async with run_node(
        identity=ident,
        transports=chosen_transports if chosen_transports is not None else default_transports(),
        security=chosen_security if chosen_security is not None else default_security(),
        muxers=chosen_muxers if chosen_muxers is not None else default_muxers(),
        protocols=chosen_protocols if chosen_protocols is not None else default_protocols(),
        services=chosen_services or [],
        gater=gater,
        config=node_config,
    ) as node:
        for addr in addrs:
            await node.listen(addr)
        yield node
