"""Memory limits of the resource manager's scopes, and the default budget."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from p2pstack.errors import InvalidConfigError

KiB: Final = 1024
MiB: Final = 1024 * KiB
GiB: Final = 1024 * MiB


def physical_memory() -> int | None:
    """Bytes of RAM on this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_system_memory() -> int:
    """A quarter of the machine's RAM or 1 GiB, whichever is smaller."""
    ram = physical_memory()
    return GiB if ram is None else min(ram // 4, GiB)


@dataclass(frozen=True, kw_only=True, slots=True)
class MemoryLimits:
    """Bytes a scope may hold for peers (``None``: no limit of its own).

    Memory reserved in a scope counts in every scope above it: a stream's in its
    connection's, its protocol's and its service's; a connection's in its peer's (or the
    transient scope's before the peer is authenticated); all of them in the system's. What
    is reserved: Yamux receive windows (the initial 256 KiB of each stream and every
    auto-tuned growth: a window grows only when the memory can be reserved, and a new stream
    whose window cannot be reserved is refused), a fixed ``connection_overhead`` per
    connection for its transport and security buffers, request-response bodies, relay
    circuit buffers.

    Attributes:
        system: everything together; default a quarter of RAM or 1 GiB, whichever is smaller.
        transient: connections not yet authenticated (their handshake buffers).
        peer: one peer, all its connections together.
        connection: one connection: its 256 streams at the initial Yamux window (64 MiB), its fixed
            overhead and 16 MiB of auto-tuned window growth.
        stream: one stream's own buffers (a request or response body, say).
        address: every inbound connection from one IP address (an IPv6 /64) together, so that one
            address holding many peer ids cannot take the whole system budget from the others.
        protocols: per protocol id, across every peer (no limit for protocols not listed).
        services: per service name (``"relay"``, ``"request-response"``...) across every peer.
        peers: per peer id (base58 text): overrides ``peer`` for the peers listed.
        connection_overhead: reserved for each connection from accept (or dial) until it ends.
    """

    system: int | None = field(default_factory=default_system_memory)
    transient: int | None = 64 * MiB
    peer: int | None = 128 * MiB
    connection: int | None = 80 * MiB
    stream: int | None = 16 * MiB
    address: int | None = 256 * MiB
    protocols: Mapping[str, int] = field(default_factory=dict)
    services: Mapping[str, int] = field(default_factory=dict)
    peers: Mapping[str, int] = field(default_factory=dict)
    connection_overhead: int = 64 * KiB

    def __post_init__(self) -> None:
        for name in ("system", "transient", "peer", "connection", "stream", "address"):
            value = getattr(self, name)
            if value is not None and value < 64 * KiB:
                raise InvalidConfigError(f"MemoryLimits.{name} must be at least 64 KiB or None")
        for table in ("protocols", "services", "peers"):
            for key, value in getattr(self, table).items():
                if value < 0:
                    raise InvalidConfigError(f"MemoryLimits.{table}[{key!r}] must not be negative")
        if self.connection_overhead < 0:
            raise InvalidConfigError("MemoryLimits.connection_overhead must not be negative")

    @classmethod
    def scaled(cls, system: int) -> MemoryLimits:
        """Limits for a node allowed ``system`` bytes, the others scaled from it (address
        1/4, transient and peer 1/8, connection 1/16, stream 1/64).

        Raises:
            InvalidConfigError: less than 16 MiB.
        """
        if system < 16 * MiB:
            raise InvalidConfigError("a node needs a memory budget of at least 16 MiB")
        return cls(
            system=system,
            transient=max(system // 8, 64 * KiB),
            peer=max(system // 8, 64 * KiB),
            connection=max(system // 16, 64 * KiB),
            stream=max(system // 64, 64 * KiB),
            address=max(system // 4, 64 * KiB),
        )
