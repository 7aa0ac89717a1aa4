"""A counting memory budget for the Yamux bound tests."""

from __future__ import annotations

from p2pstack.errors import LimitExceeded


class CountingBudget:
    """A ``MemoryBudget`` with a ``limit`` that records what is reserved."""

    def __init__(self, limit: int = 1 << 62) -> None:
        self.limit = limit
        self.reserved = 0
        self.peak = 0
        self.refusals = 0

    def reserve_memory(self, size: int) -> None:
        assert size > 0
        if self.reserved + size > self.limit:
            self.refusals += 1
            raise LimitExceeded(f"cannot reserve {size} bytes", limit="memory", scope="test")
        self.reserved += size
        self.peak = max(self.peak, self.reserved)

    def release_memory(self, size: int) -> None:
        assert 0 < size <= self.reserved
        self.reserved -= size
