"""``--security``: which security protocols a CLI node offers, in preference order."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Final

from p2pstack.abc.security import SecurityTransport
from p2pstack.security import noise, tls

SECURITY_PROTOCOLS: Final[dict[str, Callable[[], SecurityTransport]]] = {
    "noise": noise,
    "tls": tls,
}
"""``--security`` names and the transports they select."""


def add_security_argument(parser: argparse.ArgumentParser) -> None:
    """``--security NAME`` (repeatable, preference order; config key ``security``)."""
    parser.add_argument(
        "--security",
        action="append",
        choices=sorted(SECURITY_PROTOCOLS),
        metavar="NAME",
        help="security protocol to offer: noise (/noise) or tls (/tls/1.0.0); repeatable, in"
        " preference order (default: noise)",
    )


def security_transports(args: argparse.Namespace) -> list[SecurityTransport] | None:
    """The transports ``--security`` names (duplicates dropped), or None for the default."""
    names: list[str] | None = getattr(args, "security", None)
    if not names:
        return None
    return [SECURITY_PROTOCOLS[name]() for name in dict.fromkeys(names)]
