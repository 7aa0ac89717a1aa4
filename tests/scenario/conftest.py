"""Fixtures of the fault scenarios: three hosts on a bridge, each its own network namespace."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.helpers.netns import Lan, can_use_netns, lan


@pytest.fixture
def lan3() -> Iterator[Lan]:
    """Hosts 10.79.0.1-3 on a bridge; removed (processes killed first) after the test."""
    why = can_use_netns()
    if why is None and shutil.which("nft") is None:
        why = "nftables (nft) is not installed"
    if why is not None:  # the scenarios are part of the suite: fail, never skip
        pytest.fail(f"fault scenarios cannot run: {why}", pytrace=False)
    with lan(3) as net:
        yield net
