"""The memory budget contract that sans-IO cores use to account what a peer makes us hold.

A core (Yamux windows, buffers) calls :meth:`MemoryBudget.reserve_memory` before it commits
to holding bytes on a peer's behalf and :meth:`MemoryBudget.release_memory` when it lets them
go. Both are synchronous and do no I/O, so sans-IO code may call them.
"""

from __future__ import annotations

from typing import Final, Protocol, final


class MemoryBudget(Protocol):
    """Accounts bytes held for a peer against a limit."""

    def reserve_memory(self, size: int) -> None:
        """Account ``size`` more bytes.

        Raises:
            LimitExceeded: the budget (or one of its parents) cannot take ``size`` bytes;
                nothing was reserved.
        """
        ...

    def release_memory(self, size: int) -> None:
        """Give back ``size`` bytes reserved earlier."""
        ...


@final
class Unlimited:
    """A budget that accepts everything (the default when no resource manager is used)."""

    __slots__ = ()

    def reserve_memory(self, size: int) -> None:
        return None

    def release_memory(self, size: int) -> None:
        return None


UNLIMITED: Final = Unlimited()
"""The shared :class:`Unlimited` budget."""
