"""Packaging layout: the repository's top-level folders install as one import root, ``p2pstack``.

``stack/`` is ``p2pstack`` itself; the other folders are its sub-packages. pyproject.toml holds
everything else; this file only computes the package-dir mapping (setuptools cannot discover
packages under a mapped root by itself). ``scripts/devtree`` builds the same mapping as a tree
of symlinks for development (see docs/development.md).
"""

from __future__ import annotations

from pathlib import Path

ROOTS = {
    "p2pstack": "stack",
    "p2pstack.transports": "transports",
    "p2pstack.muxers": "muxers",
    "p2pstack.protocols": "protocols",
    "p2pstack.benchmarks": "benchmarks",
}


def packages(repo: Path) -> list[str]:
    """Every package under the mapped folders, by its installed dotted name."""
    found = []
    for name, folder in ROOTS.items():
        for init in sorted((repo / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(repo / folder).parts
            found.append(".".join((name, *rel)))
    return found


if __name__ == "__main__":
    from setuptools import setup

    here = Path(__file__).resolve().parent
    setup(packages=packages(here), package_dir=ROOTS)
