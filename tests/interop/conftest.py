"""Fixtures for the interop tests (real js-libp2p / py-libp2p processes).

Every test collected under tests/interop is marked ``interop``. A missing or stale peer
installation fails the test with a pointer to scripts/setup-interop-peers.sh; it never
skips (in CI a missing peer must fail the run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.interop.peers import (
    InteropSetupError,
    ListeningPeer,
    js_peer_command,
    js_peer_listening,
    py_peer_command,
    py_peer_listening,
)

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.interop)


def _require(check: Callable[[], object]) -> None:
    try:
        check()
    except InteropSetupError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def js_installed() -> None:
    """Fail (not skip) unless js-libp2p is installed and up to date."""
    _require(js_peer_command)


@pytest.fixture
def py_installed() -> None:
    """Fail (not skip) unless the py-libp2p venv is installed and up to date."""
    _require(py_peer_command)


@pytest.fixture
async def js_listener(js_installed: None) -> AsyncIterator[ListeningPeer]:
    """A js-libp2p peer listening on 127.0.0.1 (TCP), random identity."""
    async with js_peer_listening() as peer:
        yield peer


@pytest.fixture
async def py_listener(py_installed: None) -> AsyncIterator[ListeningPeer]:
    """A py-libp2p peer listening on 127.0.0.1 (TCP), random identity."""
    async with py_peer_listening() as peer:
        yield peer
