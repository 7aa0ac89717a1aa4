"""Helpers shared by the CLI commands: node construction, output, signals."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from stack.identity import Identity
from stack.node import Node, open_node
from stack.service import Service

console = Console(highlight=False)


def emit_json(data: dict[str, Any]) -> None:
    """Print one JSON line on stdout and flush it (scripts read it line by line)."""
    sys.stdout.write(json.dumps(data, separators=(", ", ": ")) + "\n")
    sys.stdout.flush()


def load_identity(key: Path | None) -> Identity:
    """The identity in ``key`` (created on first use), or a fresh one."""
    return Identity.load_or_create(key) if key is not None else Identity.generate()


def client_services() -> list[Service]:
    """What a short-lived client node runs: ping and identify, so peers can identify us."""
    from protocols.identify import identify
    from protocols.ping import ping

    return [ping(), identify()]


@asynccontextmanager
async def client_node(
    key: Path | None = None, services: Sequence[Service] | None = None
) -> AsyncIterator[Node]:
    """A node that dials but does not listen."""
    async with open_node(
        identity=load_identity(key),
        protocols=list(services) if services is not None else client_services(),
    ) as node:
        yield node
