"""Where the other implementations' peer programs come from: a p2pstack source checkout.

The js-libp2p and py-libp2p peer CLIs and the Go yamux peer are test programs of the p2pstack
repository (``tests/interop/``, ``tests/peers/``), not part of the installed package. Run from a
checkout (the development set-up), they are found next to the code; an installed p2pstack finds
them in the checkout named by ``P2PSTACK_CHECKOUT``, and without one the cases that need them
are skipped with :func:`needs_checkout`'s hint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ENV: Final = "P2PSTACK_CHECKOUT"
"""The environment variable naming a p2pstack checkout (for an installed p2pstack)."""

SETUP_SCRIPT: Final = "scripts/setup-interop-peers.sh"

PACKAGE_PARENT: Final = Path(__file__).resolve().parent.parent
"""The repository root when this file is the repository's ``benchmarks/`` folder (the
development tree links it), ``site-packages/p2pstack`` when installed."""


def is_checkout(path: Path) -> bool:
    """Whether ``path`` is the root of a p2pstack checkout (holds the peer programs)."""
    return (path / "tests" / "interop").is_dir() and (path / "setup.py").is_file()


def checkout() -> Path | None:
    """The checkout the peers come from: ``$P2PSTACK_CHECKOUT`` if set, else the repository
    this code runs from, else None (an installed package)."""
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return PACKAGE_PARENT if is_checkout(PACKAGE_PARENT) else None


def needs_checkout(what: str, *, setup_script: bool = True) -> str | None:
    """None when :func:`checkout` is usable, else why ``what`` cannot run and what to do
    (``setup_script``: the program is installed by ``scripts/setup-interop-peers.sh``)."""
    root = checkout()
    if root is None:
        setup = f"run {SETUP_SCRIPT} in it " if setup_script else ""
        return (
            f"{what} is a test program of the p2pstack repository, not of the installed package:"
            f" clone the repository, {setup}and set {ENV} to its path"
        )
    if not is_checkout(root):
        return f"{ENV}={root} is not a p2pstack checkout (it has no tests/interop/ or setup.py)"
    return None


def child_cwd() -> Path | None:
    """The working directory of benchmark children: the checkout when running from one, else
    the caller's (never the installed package's directory, whose module names would shadow
    top-level ones for ``python -m``)."""
    return PACKAGE_PARENT if is_checkout(PACKAGE_PARENT) else None
