"""Every fuzz target, by name: import :data:`TARGETS` from here (see :mod:`.registry`)."""

from __future__ import annotations

from . import (
    targets_autonat,
    targets_codecs,
    targets_dcutr,
    targets_quic,
    targets_stateful,
    targets_streams,
    targets_tls,
)
from .registry import TARGETS, Target

__all__ = [
    "TARGETS",
    "Target",
    "targets_autonat",
    "targets_codecs",
    "targets_dcutr",
    "targets_quic",
    "targets_stateful",
    "targets_streams",
    "targets_tls",
]
