"""DNS multiaddrs: ``/dns``, ``/dns4``, ``/dns6`` and ``/dnsaddr`` resolved to ``/ip4|ip6``.

:func:`dns` wraps other transports (as rust-libp2p's ``dns::Transport``): it resolves a name
with its own :class:`DnsConfig` and hands each concrete address, in order, to the inner
transport that dials it; addresses without a name go straight to the inner transports. It is
the only place names are resolved (the node's dialer and the TCP and WebSocket transports
take numeric addresses).

:func:`resolve` turns one multiaddr into the concrete addresses to dial, in order, keeping
the rest of the address (``/tcp/N/ws/p2p/<id>``). Host names go through trio's resolver
(``getaddrinfo``); ``/dnsaddr`` TXT records are queried with dnspython. Addresses that need no
resolution are returned unchanged.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, final

import trio

from p2pstack.abc.transport import NodeAwareTransport, RawConnection, Transport, TransportListener
from p2pstack.arguments import config_arg, has_methods, sequence_arg
from p2pstack.errors import InvalidConfigError, MultiaddrError, TransportError
from p2pstack.multiaddr import Multiaddr
from p2pstack.multiaddr.codec import Component

logger: Final = logging.getLogger("p2pstack.dns")

DNS_PROTOCOLS: Final = frozenset({"dns", "dns4", "dns6"})
_FAMILIES: Final = {"dns": socket.AF_UNSPEC, "dns4": socket.AF_INET, "dns6": socket.AF_INET6}


@dataclass(frozen=True, kw_only=True, slots=True)
class DnsConfig:
    """How names are resolved.

    ``timeout`` bounds one whole :func:`resolve` call (all lookups, recursion included).
    ``nameservers`` (``(ip, port)`` pairs) are used for ``/dnsaddr`` TXT queries instead of
    the system's resolv.conf; ``max_dnsaddr_depth`` bounds ``/dnsaddr`` recursion and
    ``max_addresses`` the number of addresses one call returns.
    """

    timeout: float = 5.0
    nameservers: tuple[tuple[str, int], ...] | None = None
    max_dnsaddr_depth: int = 4
    max_addresses: int = 64

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise InvalidConfigError("timeout must be positive")
        if self.max_dnsaddr_depth < 1:
            raise InvalidConfigError("max_dnsaddr_depth must be at least 1")
        if self.max_addresses < 1:
            raise InvalidConfigError("max_addresses must be at least 1")
        if self.nameservers is not None and not self.nameservers:
            raise InvalidConfigError("nameservers must be None or non-empty")


DEFAULT_DNS_CONFIG: Final = DnsConfig()


class DnsResolutionError(TransportError):
    """A name in a multiaddr could not be resolved; ``name`` and ``reason`` say which and why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"cannot resolve {name}: {reason}")
        self.name = name
        self.reason = reason


def needs_resolution(addr: Multiaddr) -> bool:
    """Whether ``addr`` starts with ``/dns``, ``/dns4``, ``/dns6`` or ``/dnsaddr``."""
    parts = addr.components()
    return bool(parts) and (parts[0].name in DNS_PROTOCOLS or parts[0].name == "dnsaddr")


async def resolve(addr: Multiaddr, config: DnsConfig = DEFAULT_DNS_CONFIG) -> list[Multiaddr]:
    """The concrete addresses ``addr`` stands for, in the order to try them.

    ``/dns4`` and ``/dns6`` keep only IPv4 or IPv6 answers; ``/dns`` returns both, IPv6 first
    (as the addressing spec prefers), each group in the resolver's order. The rest of the
    address is kept; a secure WebSocket address (``/tls/ws`` or ``/wss``) gains
    ``/tls/sni/<name>`` so the name survives for TLS. ``/dnsaddr/<name>`` follows TXT records
    ``dnsaddr=<multiaddr>`` at ``_dnsaddr.<name>`` recursively; when ``addr`` has a suffix
    (such as ``/p2p/<id>``) only records ending with it are kept. Anything else is returned
    as ``[addr]``.

    Raises:
        DnsResolutionError: a lookup failed, timed out, or found no usable address.
    """
    try:
        with trio.fail_after(config.timeout):
            out = await _resolve(addr, config, depth=0)
    except trio.TooSlowError:
        first = addr.components()[0].value or str(addr)
        raise DnsResolutionError(first, f"timed out after {config.timeout:g} s") from None
    unique: list[Multiaddr] = []
    for a in out:
        if a not in unique:
            unique.append(a)
    return unique[: config.max_addresses]


async def _resolve(addr: Multiaddr, config: DnsConfig, *, depth: int) -> list[Multiaddr]:
    parts = addr.components()
    if not parts:
        return [addr]
    head = parts[0]
    if head.name in DNS_PROTOCOLS:
        assert head.value is not None
        return await _resolve_host(head.name, head.value, parts[1:])
    if head.name == "dnsaddr":
        assert head.value is not None
        if depth >= config.max_dnsaddr_depth:
            raise DnsResolutionError(
                head.value, f"/dnsaddr recursion deeper than {config.max_dnsaddr_depth}"
            )
        found: list[Multiaddr] = []
        errors: list[DnsResolutionError] = []
        for record in await _dnsaddr_records(head.value, parts[1:], config):
            try:
                found.extend(await _resolve(record, config, depth=depth + 1))
            except DnsResolutionError as exc:
                errors.append(exc)
            if len(found) >= config.max_addresses:
                break
        if not found:
            reason = "; ".join(str(e) for e in errors) or "no matching dnsaddr records"
            raise DnsResolutionError(head.value, reason)
        return found
    return [addr]


async def _resolve_host(proto: str, name: str, rest: Sequence[Component]) -> list[Multiaddr]:
    family = _FAMILIES[proto]
    try:
        infos = await trio.socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
    except OSError as exc:  # socket.gaierror included
        raise DnsResolutionError(name, str(exc)) from exc
    v6: list[str] = []
    v4: list[str] = []
    for fam, *_, sockaddr in infos:
        ip = str(sockaddr[0])
        if fam == socket.AF_INET6 and family in (socket.AF_UNSPEC, socket.AF_INET6):
            if "%" in ip:  # scoped (link-local) addresses cannot be written as /ip6
                continue
            if ip not in v6:
                v6.append(ip)
        elif fam == socket.AF_INET and family != socket.AF_INET6 and ip not in v4:
            v4.append(ip)
    if not v6 and not v4:
        wanted = {"dns4": "IPv4 ", "dns6": "IPv6 "}.get(proto, "")
        raise DnsResolutionError(name, f"no {wanted}addresses")
    tail = _keep_name_for_tls(name, list(rest))
    out = [Multiaddr(f"/ip6/{ip}") for ip in v6] + [Multiaddr(f"/ip4/{ip}") for ip in v4]
    return [Multiaddr.from_components([*a.components(), *tail]) for a in out]


def _keep_name_for_tls(name: str, rest: list[Component]) -> list[Component]:
    """Insert ``/tls/sni/<name>`` into a ``/tcp/N/wss`` or ``/tcp/N/tls/ws`` tail."""
    names = [c.name for c in rest]
    if "sni" in names:
        return rest
    if "wss" in names:
        at = names.index("wss")
        return [
            *rest[:at],
            Component.parse("tls"),
            Component.parse("sni", name),
            Component.parse("ws"),
            *rest[at + 1 :],
        ]
    if "tls" in names:
        at = names.index("tls")
        return [*rest[: at + 1], Component.parse("sni", name), *rest[at + 1 :]]
    return rest


async def _dnsaddr_records(
    name: str, suffix: Sequence[Component], config: DnsConfig
) -> list[Multiaddr]:
    """The multiaddrs in the ``dnsaddr=`` TXT records of ``_dnsaddr.<name>``, filtered."""
    import dns.asyncresolver
    import dns.exception
    import dns.nameserver
    import dns.resolver

    try:
        if config.nameservers is None:
            resolver = dns.asyncresolver.Resolver()
        else:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port) for host, port in config.nameservers
            ]
        answer = await resolver.resolve(f"_dnsaddr.{name}", "TXT", lifetime=config.timeout)
    except dns.resolver.NXDOMAIN as exc:
        raise DnsResolutionError(name, f"no TXT records at _dnsaddr.{name}") from exc
    except dns.resolver.NoAnswer as exc:
        raise DnsResolutionError(name, f"no TXT records at _dnsaddr.{name}") from exc
    except dns.exception.DNSException as exc:
        raise DnsResolutionError(name, f"TXT lookup failed: {exc}") from exc
    suffix_bytes = b"".join(c.to_bytes() for c in suffix)
    records: list[Multiaddr] = []
    for rdata in answer:
        text = b"".join(rdata.strings).decode("utf-8", "replace")
        if not text.startswith("dnsaddr="):
            continue
        try:
            record = Multiaddr(text[len("dnsaddr=") :])
        except MultiaddrError as exc:
            logger.debug("ignoring malformed dnsaddr record %r for %s: %s", text, name, exc)
            continue
        if suffix_bytes and not record.to_bytes().endswith(suffix_bytes):
            continue
        records.append(record)
    return records


_PLACEHOLDERS: Final = {"dns": "/ip4/0.0.0.0", "dns4": "/ip4/0.0.0.0", "dns6": "/ip6/::"}
"""A numeric host of the family each name protocol resolves to, to ask inner transports."""


@final
class DnsTransport:
    """Resolves names with :attr:`config`, then dials through :attr:`inner` (see the module
    docstring). Listening is the inner transports' (names are never listened on)."""

    name = "dns"

    def __init__(self, inner: Sequence[Transport], config: DnsConfig) -> None:
        self.inner = list(inner)
        self.config = config

    def _inner_for(self, addr: Multiaddr) -> Transport | None:
        return next((t for t in self.inner if t.can_dial(addr)), None)

    def can_dial(self, addr: Multiaddr) -> bool:
        if not needs_resolution(addr):
            return self._inner_for(addr) is not None
        head, *rest = addr.components()
        if head.name == "dnsaddr":  # the records say what follows: /dnsaddr/<name>[/p2p/<id>]
            return all(c.name == "p2p" for c in rest)
        probe = Multiaddr(_PLACEHOLDERS[head.name]).components()
        return self._inner_for(Multiaddr.from_components([*probe, *rest])) is not None

    def can_listen(self, addr: Multiaddr) -> bool:
        return any(t.can_listen(addr) for t in self.inner)

    async def dial(self, addr: Multiaddr) -> RawConnection:
        """Resolve ``addr`` if it holds a name, then dial the concrete addresses in order
        until one connects.

        Raises:
            DnsResolutionError: the name did not resolve.
            TransportError: no inner transport dials an address, or every address failed
                (each attempt is listed).
        """
        if not needs_resolution(addr):
            transport = self._inner_for(addr)
            if transport is None:
                raise TransportError(f"no inner transport dials {addr}")
            return await transport.dial(addr)
        failures: list[str] = []
        last: TransportError | None = None
        for target in await resolve(addr, self.config):
            transport = self._inner_for(target)
            if transport is None:
                failures.append(f"{target}: no inner transport dials it")
                continue
            try:
                return await transport.dial(target)
            except TransportError as exc:
                logger.debug("dialling %s (from %s) failed: %s", target, addr, exc)
                failures.append(f"{target}: {exc}")
                last = exc
        raise TransportError(f"dialling {addr} failed: {'; '.join(failures)}") from last

    async def listen(self, addr: Multiaddr) -> TransportListener:
        transport = next((t for t in self.inner if t.can_listen(addr)), None)
        if transport is None:
            raise TransportError(f"no inner transport listens on {addr}")
        return await transport.listen(addr)

    def attach(self, context: object) -> None:
        """Pass the node's context on to the inner transports that need it."""
        for transport in self.inner:
            if isinstance(transport, NodeAwareTransport):
                transport.attach(context)


def dns(inner: Sequence[Transport], config: DnsConfig | None = None) -> DnsTransport:
    """The DNS transport around ``inner`` (e.g. ``dns([tcp(), websocket()])``), resolving with
    ``config`` (defaults when None).

    Raises:
        InvalidConfigError: ``inner`` is not a non-empty list of transports, or ``config`` is
            not a :class:`DnsConfig`.
    """
    transports = sequence_arg(inner, "dns(inner)") or []
    if not transports:
        raise InvalidConfigError("dns(inner): at least one transport to wrap")
    for i, transport in enumerate(transports):
        has_methods(
            transport,
            ("can_dial", "can_listen", "dial", "listen"),
            f"dns(inner)[{i}]",
            "a transport",
        )
    return DnsTransport(transports, config_arg(config, DnsConfig, "dns(config)"))
