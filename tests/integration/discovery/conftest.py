"""Fixtures of the mDNS tests: a thread-leak guard and throwaway network namespaces."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.helpers.netns import Lan, can_use_netns, lan


@pytest.fixture
def no_thread_leak() -> Iterator[None]:
    """Fail when the test leaves a thread behind that was not running before it.

    trio's own idle worker threads ("Trio thread N", kept by trio.to_thread and
    trio.run_process for reuse) are not ours and are not counted.
    """
    before = set(threading.enumerate())
    yield
    left = [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.name.startswith("Trio thread")
    ]
    assert not left, f"threads leaked: {[t.name for t in left]}"


@pytest.fixture
def lan3() -> Iterator[Lan]:
    """Three hosts (10.79.0.1-3) on a bridge, each its own network namespace."""
    why = can_use_netns()
    if why is not None:  # the suite needs namespaces: fail, never skip
        pytest.fail(f"network namespaces unavailable: {why}", pytrace=False)
    with lan(3) as net:
        yield net
