"""The AutoNAT client's decisions (pure, time passed in): which addresses to test next and
what the servers' answers add up to.

Each server's latest answer per address counts for ``recheck_interval``. An address is
``PUBLIC`` when at least ``min_confirmations`` servers reached it and more reached it than
failed, ``PRIVATE`` when at least ``min_confirmations`` failed and more failed than reached
it, else ``UNKNOWN``. The node is ``PUBLIC`` when any address is, ``PRIVATE`` when every
tested address is, else ``UNKNOWN``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from p2pstack.host.reachability import Reachability, ReachabilityStatus
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr


@dataclass
class Verdicts:
    """Servers' answers per address and the verdicts they give (see the module docstring)."""

    min_confirmations: int
    max_servers: int
    recheck_interval: float
    _answers: dict[Multiaddr, dict[PeerId, tuple[bool, float]]] = field(default_factory=dict)
    _asked: dict[Multiaddr, dict[PeerId, float]] = field(default_factory=dict)

    def record(self, addr: Multiaddr, server: PeerId, reachable: bool | None, now: float) -> None:
        """Note that ``server`` was asked about ``addr`` and what it said (None: nothing)."""
        addr = addr.without_peer_id()
        horizon = now - self.recheck_interval
        asked = self._asked.setdefault(addr, {})
        for old in [s for s, at in asked.items() if at <= horizon]:  # keep the tables bounded
            del asked[old]
            self._answers.get(addr, {}).pop(old, None)
        asked[server] = now
        if reachable is not None:
            self._answers.setdefault(addr, {})[server] = (reachable, now)

    def _fresh(self, addr: Multiaddr, now: float) -> list[bool]:
        horizon = now - self.recheck_interval
        answers = self._answers.get(addr, {})
        return [r for r, at in answers.values() if at > horizon]

    def verdict(self, addr: Multiaddr, now: float) -> Reachability:
        """The verdict on ``addr`` now."""
        fresh = self._fresh(addr.without_peer_id(), now)
        yes, no = fresh.count(True), fresh.count(False)
        if yes >= self.min_confirmations and yes > no:
            return Reachability.PUBLIC
        if no >= self.min_confirmations and no > yes:
            return Reachability.PRIVATE
        return Reachability.UNKNOWN

    def servers_to_ask(
        self, addr: Multiaddr, servers: Iterable[PeerId], now: float
    ) -> list[PeerId]:
        """Servers not asked about ``addr`` within ``recheck_interval``, while it is
        undecided or its verdict is due, at most enough to reach a verdict."""
        addr = addr.without_peer_id()
        horizon = now - self.recheck_interval
        asked = {s for s, at in self._asked.get(addr, {}).items() if at > horizon}
        if self.verdict(addr, now) is not Reachability.UNKNOWN:
            return []
        budget = self.max_servers - len(asked)
        return [s for s in servers if s not in asked][: max(budget, 0)]

    def next_due(self, now: float) -> float | None:
        """When the next fresh answer expires (the next recheck), or None without any."""
        due = [
            at + self.recheck_interval
            for asked in self._asked.values()
            for at in asked.values()
            if at + self.recheck_interval > now
        ]
        return min(due) if due else None

    def status(self, addrs: Iterable[Multiaddr], now: float) -> ReachabilityStatus:
        """The node's reachability over the candidate ``addrs``; ``by_addr`` lists the
        decided addresses only."""
        by_addr = tuple(
            (a, self.verdict(a, now)) for a in dict.fromkeys(a.without_peer_id() for a in addrs)
        )
        tested = [r for _, r in by_addr]
        if Reachability.PUBLIC in tested:
            overall = Reachability.PUBLIC
        elif tested and all(r is Reachability.PRIVATE for r in tested):
            overall = Reachability.PRIVATE
        else:
            overall = Reachability.UNKNOWN
        decided = tuple((a, r) for a, r in by_addr if r is not Reachability.UNKNOWN)
        return ReachabilityStatus(overall, decided)

    def forget(self, keep: Iterable[Multiaddr]) -> None:
        """Drop everything about addresses no longer among the candidates."""
        kept = {a.without_peer_id() for a in keep}
        for table in (self._answers, self._asked):
            for addr in [a for a in table if a not in kept]:
                del table[addr]
