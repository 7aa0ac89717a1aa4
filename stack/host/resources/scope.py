"""Resource scopes: a DAG of accounts for memory, connections and streams.

Every scope has a name (``system``, ``transient``, ``peer:<id>``, ``connection:<n>``,
``stream:<n>``, ``protocol:<id>``, ``service:<name>``), its own limits and its parents. A
reservation made in a scope is checked against that scope and every ancestor, then
counted in all of them, or refused as a whole with :class:`~p2pstack.errors.LimitExceeded`
naming the scope and the limit that refused it. Scopes are plain synchronous objects: sans-IO
cores may reserve through them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from p2pstack.errors import LimitExceeded

INBOUND: Final = "inbound"
OUTBOUND: Final = "outbound"


@dataclass(frozen=True, kw_only=True, slots=True)
class ScopeLimit:
    """What one scope may hold (``None``: no limit of its own)."""

    memory: int | None = None
    conns: int | None = None
    conns_inbound: int | None = None
    conns_outbound: int | None = None
    streams: int | None = None
    streams_inbound: int | None = None
    streams_outbound: int | None = None


NO_LIMIT: Final = ScopeLimit()

RefusalHook = Callable[[LimitExceeded], None]


class ResourceScope:
    """One account. Use the manager's methods to create scopes (it wires their parents)."""

    __slots__ = ("_chain", "_on_refusal", "_parents", "conns", "limit", "memory", "name", "streams")

    def __init__(
        self,
        name: str,
        limit: ScopeLimit = NO_LIMIT,
        parents: Sequence[ResourceScope] = (),
        *,
        on_refusal: RefusalHook | None = None,
    ) -> None:
        self.name = name
        self.limit = limit
        self.memory = 0
        self.conns = {INBOUND: 0, OUTBOUND: 0}
        self.streams = {INBOUND: 0, OUTBOUND: 0}
        self._on_refusal = on_refusal
        self._parents: tuple[ResourceScope, ...] = tuple(parents)
        self._chain = self._compute_chain()

    def __repr__(self) -> str:
        return (
            f"<ResourceScope {self.name} memory={self.memory} conns={self.conns} "
            f"streams={self.streams}>"
        )

    @property
    def parents(self) -> tuple[ResourceScope, ...]:
        """The scopes directly above this one."""
        return self._parents

    @property
    def chain(self) -> tuple[ResourceScope, ...]:
        """This scope and every ancestor, each once."""
        return self._chain

    def _compute_chain(self) -> tuple[ResourceScope, ...]:
        seen: dict[int, ResourceScope] = {id(self): self}
        todo = list(self._parents)
        while todo:
            scope = todo.pop(0)
            if id(scope) not in seen:
                seen[id(scope)] = scope
                todo.extend(scope.parents)
        return tuple(seen.values())

    # ---- memory --------------------------------------------------------------------------

    def reserve_memory(self, size: int) -> None:
        """Reserve ``size`` bytes here and in every ancestor, or raise LimitExceeded."""
        if size <= 0:
            return
        for scope in self._chain:
            cap = scope.limit.memory
            if cap is not None and scope.memory + size > cap:
                detail = f"{size} more bytes would exceed {cap} ({scope.memory} in use)"
                self._refuse(scope, "memory", detail)
        for scope in self._chain:
            scope.memory += size

    def release_memory(self, size: int) -> None:
        """Give back ``size`` bytes reserved through this scope."""
        if size <= 0:
            return
        for scope in self._chain:
            scope.memory -= size
            if scope.memory < 0:  # a bug: releasing more than was reserved
                scope.memory = 0

    # ---- connections and streams ----------------------------------------------------------

    def _check_count(self, chain: Sequence[ResourceScope], kind: str, direction: str) -> None:
        label = "connections" if kind == "conns" else "streams"
        for scope in chain:
            counts = scope.conns if kind == "conns" else scope.streams
            limit = scope.limit
            directed: int | None = getattr(limit, f"{kind}_{direction}")
            total: int | None = getattr(limit, kind)
            if directed is not None and counts[direction] >= directed:
                self._refuse(scope, f"{label}.{direction}", f"local limit reached ({directed})")
            if total is not None and counts[INBOUND] + counts[OUTBOUND] >= total:
                name = "per_peer" if scope.name.startswith("peer:") else "total"
                self._refuse(scope, f"{label}.{name}", f"local limit reached ({total})")

    def add(self, kind: str, direction: str, chain: Sequence[ResourceScope] | None = None) -> None:
        """Count one connection or stream (``kind`` ``"conns"``/``"streams"``) in ``chain``
        (default: this scope and its ancestors), or raise LimitExceeded."""
        chain = self._chain if chain is None else chain
        self._check_count(chain, kind, direction)
        for scope in chain:
            (scope.conns if kind == "conns" else scope.streams)[direction] += 1

    def remove(
        self, kind: str, direction: str, chain: Sequence[ResourceScope] | None = None
    ) -> None:
        """Undo one :meth:`add`."""
        for scope in self._chain if chain is None else chain:
            counts = scope.conns if kind == "conns" else scope.streams
            counts[direction] = max(counts[direction] - 1, 0)

    def reparent(self, parents: Sequence[ResourceScope], *, kind: str, direction: str) -> None:
        """Move this scope (its memory and the one connection or stream it stands for)
        under ``parents``.

        Raises:
            LimitExceeded: a new ancestor cannot take it; nothing changed.
        """
        old = self._chain
        saved, self._parents = self._parents, tuple(parents)
        new = self._compute_chain()
        self._parents = saved
        added = [s for s in new if s not in old]
        removed = [s for s in old if s not in new]
        for scope in added:
            cap = scope.limit.memory
            if cap is not None and scope.memory + self.memory > cap:
                self._refuse(scope, "memory", f"{cap} bytes would be exceeded")
        self._check_count(added, kind, direction)
        for scope in added:
            scope.memory += self.memory
            (scope.conns if kind == "conns" else scope.streams)[direction] += 1
        for scope in removed:
            scope.memory = max(scope.memory - self.memory, 0)
            counts = scope.conns if kind == "conns" else scope.streams
            counts[direction] = max(counts[direction] - 1, 0)
        self._parents = tuple(parents)
        self._chain = new

    def _refuse(self, scope: ResourceScope, limit: str, detail: str) -> None:
        exc = LimitExceeded(
            f"{self.name}: {limit} of {scope.name}: {detail}",
            limit=limit,
            scope=scope.name,
        )
        if self._on_refusal is not None:
            self._on_refusal(exc)
        raise exc
