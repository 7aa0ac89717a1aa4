from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.netbed import NetBed


@pytest.fixture
def netbed() -> Iterator[NetBed]:
    bed = NetBed()
    try:
        yield bed
    finally:
        bed.close()
