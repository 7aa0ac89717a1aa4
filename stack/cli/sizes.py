"""Parsing byte sizes such as ``64M`` or ``1G`` (binary multiples)."""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_PATTERN: Final = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"1G"`` -> 1073741824. Accepts K/M/G/T with optional ``B``/``iB``; raises ValueError."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(f"invalid size {text!r} (expected e.g. 1048576, 64K, 16M or 1G)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def format_size(count: int) -> str:
    """1073741824 -> ``"1 GiB"``; sizes that are not whole units keep two decimals."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            value = count / scale
            return f"{value:.0f} {unit}" if value.is_integer() else f"{value:.2f} {unit}"
    return f"{count} B"
