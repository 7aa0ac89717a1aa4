"""Relay server (hop) configuration: limits, rates and the operator profiles.

Two profiles:

``RelayConfig()`` — the default, compatible with go-, rust- and js-libp2p relays: every circuit
is cut after **2 minutes** or **128 KiB** per direction (clients mark such connections
*limited*: only identify, ping and protocols that opt in run over them), reservations last
an hour, at most 128 of them (8 per IP), 16 circuits per peer.

``RelayConfig.bulk()`` — for a relay an operator runs for their own peers' bulk traffic: no
per-circuit duration or data limit (no ``Limit`` is sent, so connections are not limited and
every protocol runs), 1 MiB copy steps, and fewer, longer reservations (32, 4 per IP,
TTL 1 h) and circuits (64, 8 per peer) so one relay's bandwidth is shared by few circuits.
Restrict who may reserve with ``allow_peers``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from p2pstack.errors import InvalidConfigError
from p2pstack.identity import PeerId


@dataclass(frozen=True, kw_only=True, slots=True)
class RateLimit:
    """A token bucket: ``burst`` requests at once, refilled at ``per_minute`` per minute."""

    burst: int
    per_minute: float

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_minute <= 0:
            raise InvalidConfigError("a rate limit needs burst >= 1 and per_minute > 0")


@dataclass(frozen=True, kw_only=True, slots=True)
class RelayConfig:
    """Limits of a relay server. Counts of 0 are refused; durations are seconds."""

    reservation_ttl: float = 3600.0
    """How long a reservation lasts unless renewed (go and rust: 1 h)."""
    max_reservations: int = 128
    max_reservations_per_ip: int = 8
    circuit_duration: int = 120
    """Per-circuit duration limit in seconds, 0 = none (go, rust, js: 2 min)."""
    circuit_data: int = 1 << 17
    """Per-circuit data limit in bytes per direction, 0 = none (go, rust, js: 128 KiB)."""
    max_circuits: int = 1024
    max_circuits_per_peer: int = 16
    """Circuits towards (or from) one peer at once (go: 16)."""
    max_circuits_per_ip: int = 64
    peer_rate: RateLimit | None = RateLimit(burst=60, per_minute=60)
    """Hop requests (reserve and connect) per source peer."""
    ip_rate: RateLimit | None = RateLimit(burst=240, per_minute=240)
    """Hop requests per source IP address."""
    request_timeout: float = 60.0
    """Time a client has to send its hop request (go: 1 min)."""
    stop_timeout: float = 30.0
    """Time the destination has to answer the stop handshake (go: connect timeout 30 s)."""
    copy_buffer: int = 64 * 1024
    """Largest copy step when splicing a circuit: one write downstream carries at most this
    much, gathered from what the source already holds (reserved twice per circuit from the
    relay's memory budget)."""
    allow_peers: frozenset[PeerId] | None = None
    """When set, only these peers may reserve (others get PERMISSION_DENIED)."""
    send_voucher: bool = True
    """Sign a reservation voucher (byte-exact with go-libp2p) into every reservation."""

    def __post_init__(self) -> None:
        for name in ("reservation_ttl", "request_timeout", "stop_timeout"):
            if getattr(self, name) <= 0:
                raise InvalidConfigError(f"{name} must be positive")
        for name in (
            "max_reservations",
            "max_reservations_per_ip",
            "max_circuits",
            "max_circuits_per_peer",
            "max_circuits_per_ip",
        ):
            if getattr(self, name) < 1:
                raise InvalidConfigError(f"{name} must be at least 1")
        if not 0 <= self.circuit_duration < 1 << 32:
            raise InvalidConfigError("circuit_duration must fit in a uint32 (0 = no limit)")
        if not 0 <= self.circuit_data < 1 << 64:
            raise InvalidConfigError("circuit_data must fit in a uint64 (0 = no limit)")
        if self.copy_buffer < 1024:
            raise InvalidConfigError("copy_buffer must be at least 1024 bytes")

    @classmethod
    def bulk(cls, **overrides: Any) -> RelayConfig:
        """The operator profile for bulk traffic (see the module docstring)."""
        base = cls(
            circuit_duration=0,
            circuit_data=0,
            max_reservations=32,
            max_reservations_per_ip=4,
            max_circuits=64,
            max_circuits_per_peer=8,
            max_circuits_per_ip=16,
            copy_buffer=1024 * 1024,
        )
        return replace(base, **overrides)

    @property
    def has_circuit_limit(self) -> bool:
        """Whether circuits carry a ``Limit`` (and are therefore *limited* connections)."""
        return bool(self.circuit_duration or self.circuit_data)
