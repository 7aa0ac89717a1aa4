"""The immutable :class:`Multiaddr` value type."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, final

from p2pstack.errors import MultiaddrError
from p2pstack.identity.peer_id import PeerId
from p2pstack.multiaddr import protocols as p
from p2pstack.multiaddr.codec import (
    Component,
    components_to_bytes,
    components_to_string,
    parse_bytes,
    parse_string,
)
from p2pstack.multiaddr.protocols import protocol_by_name

_HOST_PROTOCOLS = frozenset({"ip4", "ip6", "dns", "dns4", "dns6"})


@final
class Multiaddr:
    """An immutable, hashable multiaddr; equality and hashing go by the binary form.

    ``Multiaddr("/ip4/1.2.3.4/tcp/80")`` parses the string form, ``Multiaddr(b"...")`` the
    binary form; another :class:`Multiaddr` is accepted as is. The empty multiaddr is
    ``Multiaddr("")`` (string ``""``, binary ``b""``).

    Raises:
        MultiaddrError: the input is malformed (also a ``ValueError``).
    """

    __slots__ = ("_bytes", "_components")

    _bytes: bytes
    _components: tuple[Component, ...]

    def __init__(self, addr: str | bytes | bytearray | memoryview | Multiaddr = "") -> None:
        if isinstance(addr, Multiaddr):
            components = addr.components()
        elif isinstance(addr, str):
            components = parse_string(addr)
        elif isinstance(addr, bytes | bytearray | memoryview):
            components = parse_bytes(addr)
        else:
            raise TypeError(f"cannot build a Multiaddr from {type(addr).__name__}")
        _fill(self, components)

    @classmethod
    def from_string(cls, text: str) -> Multiaddr:
        """Parse the string form. Raises :class:`MultiaddrError`."""
        return cls.from_components(parse_string(text))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Multiaddr:
        """Parse the binary form. Raises :class:`MultiaddrError`."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"expected bytes, got {type(data).__name__}")
        return cls.from_components(parse_bytes(data))

    @classmethod
    def from_components(cls, components: Iterable[Component]) -> Multiaddr:
        """Join components. Raises :class:`MultiaddrError` if the result is too long."""
        ma = object.__new__(cls)
        _fill(ma, tuple(components))
        return ma

    @classmethod
    def from_host_port(cls, host: str, port: int, transport: str = "tcp") -> Multiaddr:
        """Build ``/ip4|ip6|dns/<host>/<transport>/<port>``.

        An IP literal (``"::1"``, ``"fe80::1%eth0"``) becomes ``/ip4`` or ``/ip6`` (a zone becomes
        a leading ``/ip6zone``); anything else becomes ``/dns``.
        """
        address, _, zone = host.partition("%")
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            parts = [Component(p.DNS, host)]
        else:
            parts = [Component(p.IP6ZONE, zone)] if zone and ip.version == 6 else []
            if zone and ip.version == 4:
                raise MultiaddrError(f"an IPv4 address cannot have a zone: {host!r}")
            parts.append(Component(p.IP4 if ip.version == 4 else p.IP6, str(ip)))
        parts.append(Component.parse(transport, str(port)))
        return cls.from_components(parts)

    def to_bytes(self) -> bytes:
        """The binary form."""
        return self._bytes

    def components(self) -> tuple[Component, ...]:
        """The components in order."""
        return self._components

    def protocols(self) -> list[str]:
        """The canonical protocol names in order."""
        return [c.name for c in self._components]

    def encapsulate(self, other: Multiaddr | str) -> Multiaddr:
        """Return ``self`` followed by ``other``. Raises :class:`MultiaddrError` if too long."""
        return Multiaddr.from_components(self._components + Multiaddr(other).components())

    def __truediv__(self, other: Multiaddr | str) -> Multiaddr:
        return self.encapsulate(other)

    def decapsulate(self, what: Multiaddr | str) -> Multiaddr:
        """Strip the last occurrence of ``what`` and everything after it.

        ``what`` is a multiaddr (or its string form, starting with ``/``) or a protocol name
        (``"p2p"``). If it does not occur, ``self`` is returned unchanged.
        """
        comps = self._components
        if isinstance(what, str) and what and not what.startswith("/"):
            code = protocol_by_name(what).code
            for i in range(len(comps) - 1, -1, -1):
                if comps[i].code == code:
                    return Multiaddr.from_components(comps[:i])
            return self
        suffix = Multiaddr(what).components()
        if not suffix:
            return self
        for i in range(len(comps) - len(suffix), -1, -1):
            if comps[i : i + len(suffix)] == suffix:
                return Multiaddr.from_components(comps[:i])
        return self

    def value_for(self, protocol: str) -> str | None:
        """The value of the first component with this protocol name (aliases accepted).

        Returns ``None`` when the protocol is absent or carries no value; use
        :meth:`has_protocol` to test for value-less protocols.
        """
        code = protocol_by_name(protocol).code
        for comp in self._components:
            if comp.code == code:
                return comp.value
        return None

    def has_protocol(self, protocol: str) -> bool:
        """Whether any component has this protocol name (aliases accepted)."""
        code = protocol_by_name(protocol).code
        return any(c.code == code for c in self._components)

    def _peer_index(self) -> int | None:
        for i in range(len(self._components) - 1, -1, -1):
            code = self._components[i].code
            if code == p.P2P.code:
                return i
            if code == p.P2P_CIRCUIT.code:
                return None
        return None

    def peer_id(self) -> PeerId | None:
        """The peer this address reaches: the last ``/p2p`` component.

        A ``/p2p`` before the last ``/p2p-circuit`` names the relay, not the peer, so
        ``/ip4/.../p2p/<relay>/p2p-circuit`` has no peer id.
        """
        index = self._peer_index()
        if index is None:
            return None
        return PeerId.from_bytes(self._components[index].raw)

    def without_peer_id(self) -> Multiaddr:
        """``self`` without the component :meth:`peer_id` reads (unchanged if none)."""
        index = self._peer_index()
        if index is None:
            return self
        comps = self._components
        return Multiaddr.from_components(comps[:index] + comps[index + 1 :])

    def with_peer_id(self, peer_id: PeerId) -> Multiaddr:
        """``self`` ending in ``/p2p/<peer_id>``, replacing any peer id already present."""
        comp = Component(p.P2P, peer_id.to_base58())
        return Multiaddr.from_components((*self.without_peer_id().components(), comp))

    def host_port(self, transport: str = "tcp") -> tuple[str, int] | None:
        """``(host, port)`` if ``self`` starts with ``/ip4|ip6|dns|dns4|dns6/<h>/<transport>/<n>``.

        Components after the port (``/ws``, ``/p2p/...``) are ignored. ``/ip6zone/<z>/ip6/<a>``
        gives the host ``"<a>%<z>"``. Returns ``None`` for any other shape.
        """
        comps = self._components
        zone = None
        if comps and comps[0].name == "ip6zone":
            zone, comps = comps[0].value, comps[1:]
            if not comps or comps[0].name != "ip6":
                return None
        if len(comps) < 2 or comps[0].name not in _HOST_PROTOCOLS or comps[1].name != transport:
            return None
        host, port = comps[0].value, comps[1].value
        if host is None or port is None or comps[1].protocol.size != 16:
            return None
        return (f"{host}%{zone}" if zone else host), int(port)

    def __bytes__(self) -> bytes:
        return self._bytes

    def __str__(self) -> str:
        return components_to_string(self._components)

    def __repr__(self) -> str:
        return f"Multiaddr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Multiaddr):
            return NotImplemented
        return self._bytes == bytes(other)

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Multiaddr is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Multiaddr is immutable")

    def __reduce__(self) -> tuple[type[Multiaddr], tuple[bytes]]:
        return (Multiaddr, (self._bytes,))


def _fill(addr: Multiaddr, components: tuple[Component, ...]) -> None:
    """Set the (frozen) fields of a new ``addr``."""
    object.__setattr__(addr, "_components", components)
    object.__setattr__(addr, "_bytes", components_to_bytes(components))
