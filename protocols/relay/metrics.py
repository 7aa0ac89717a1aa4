"""Relay counters for operators: active reservations and circuits, bytes, refusals."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RelayMetrics:
    """Counters of one relay server; :meth:`snapshot` gives a JSON-ready view."""

    active_reservations: int = 0
    active_circuits: int = 0
    reservations_accepted: int = 0
    """Reservations granted, renewals included."""
    circuits_opened: int = 0
    circuits_closed: int = 0
    bytes_relayed: int = 0
    """Bytes copied through circuits, both directions."""
    refusals: Counter[str] = field(default_factory=Counter)
    """Refused hop requests by status name (``NO_RESERVATION``, ``RATE_LIMITED``...)."""
    circuit_ends: Counter[str] = field(default_factory=Counter)
    """How circuits ended: ``closed``, ``duration_limit``, ``data_limit``, ``reset``."""

    def refuse(self, reason: str) -> None:
        """Count one refusal."""
        self.refusals[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain JSON data."""
        return {
            "active_reservations": self.active_reservations,
            "active_circuits": self.active_circuits,
            "reservations_accepted": self.reservations_accepted,
            "circuits_opened": self.circuits_opened,
            "circuits_closed": self.circuits_closed,
            "bytes_relayed": self.bytes_relayed,
            "refusals": dict(sorted(self.refusals.items())),
            "circuit_ends": dict(sorted(self.circuit_ends.items())),
        }
