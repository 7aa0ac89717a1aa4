"""Fixtures of the XMPP tests: a throwaway prosody (plain or TLS) with the test users."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.prosody import Prosody

USERS = {name: f"{name}-pw" for name in ("srv", "friend", "stranger", "nosub", "carol")}


@pytest.fixture
def prosody() -> Iterator[Prosody]:
    with Prosody(USERS) as server:
        yield server


@pytest.fixture
def prosody_tls() -> Iterator[Prosody]:
    with Prosody(USERS, tls=True) as server:
        yield server
