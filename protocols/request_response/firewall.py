"""The request-response firewall: default and per-peer rules, for inbound AND outbound.

The effective rule for a request is the peer's rule for that direction, else the default
rule for that direction. When neither exists the application's ``rule_provider`` is asked
once per peer (concurrent requests share the question); its answer becomes the peer's
rules. No answer within ``ask_timeout`` seconds, an exception, or no provider at all means
the request is rejected. ``Ask`` rules consult the ``approver`` per request under the same
timeout. ``Restricted`` and ``Ask`` may carry a ``projection`` so that the predicate or the
approver sees only part of the request.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, final

import trio

from p2pstack.errors import InvalidConfigError
from p2pstack.identity import PeerId
from p2pstack.protocols.request_response.errors import NotPermitted

logger: Final = logging.getLogger("p2pstack.request_response.firewall")


class RequestDirection(enum.Flag):
    """Which requests a rule applies to."""

    INBOUND = 1
    OUTBOUND = 2
    BOTH = 3


@final
@dataclass(frozen=True, slots=True)
class AllowAll:
    """Every request passes."""


@final
@dataclass(frozen=True, slots=True)
class RejectAll:
    """Every request is refused."""


@final
@dataclass(frozen=True, slots=True)
class Restricted:
    """Requests pass when ``predicate(projection(request))`` is true.

    It holds code: :meth:`Firewall.export_rules` writes it as ``"restricted:<name>"`` when it
    has a ``name`` (:meth:`Firewall.import_rules` maps the name back to a rule through its
    ``named`` argument), and refuses to export it without one.
    """

    predicate: Callable[[Any], bool]
    projection: Callable[[Any], Any] | None = None
    name: str | None = None


@final
@dataclass(frozen=True, slots=True)
class Ask:
    """The application's ``approver`` decides each request (sees ``projection(request)``).

    Without a projection it exports as ``"ask"``; with one it needs a ``name`` to be
    exported (as ``"ask:<name>"``), like :class:`Restricted`.
    """

    projection: Callable[[Any], Any] | None = None
    name: str | None = None


Rule = AllowAll | RejectAll | Restricted | Ask

_NAMES: Final[dict[str, Rule]] = {"allow": AllowAll(), "reject": RejectAll(), "ask": Ask()}
_KINDS: Final[dict[type[Rule], str]] = {Restricted: "restricted", Ask: "ask"}


class UnserializableRule(InvalidConfigError):
    """:meth:`Firewall.export_rules` met a rule holding code without a name.

    ``where`` says which rule (``"default inbound"``, ``"peer 12D3KooW... outbound"``);
    ``rule`` is the rule itself.
    """

    def __init__(self, where: str, rule: Rule) -> None:
        super().__init__(
            f"the {where} rule {type(rule).__name__} holds code and has no name: give it "
            "name=... (and pass it to import_rules(named=...)) or export with skip_unnamed=True"
        )
        self.where = where
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Rules:
    """A rule per direction; ``None`` means "no rule" (fall back or ask)."""

    inbound: Rule | None = None
    outbound: Rule | None = None

    @classmethod
    def both(cls, rule: Rule) -> Rules:
        """The same rule for inbound and outbound requests."""
        return cls(inbound=rule, outbound=rule)

    def get(self, direction: RequestDirection) -> Rule | None:
        """The rule for one direction (INBOUND or OUTBOUND)."""
        return self.inbound if direction is RequestDirection.INBOUND else self.outbound

    def with_rule(self, rule: Rule | None, direction: RequestDirection) -> Rules:
        """A copy with ``rule`` set (or removed, for None) for ``direction``."""
        out = self
        if RequestDirection.INBOUND in direction:
            out = replace(out, inbound=rule)
        if RequestDirection.OUTBOUND in direction:
            out = replace(out, outbound=rule)
        return out

    def merged_over(self, other: Rules) -> Rules:
        """``self``'s rules, with ``other``'s where ``self`` has none."""
        return Rules(self.inbound or other.inbound, self.outbound or other.outbound)


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """What an ``Ask`` rule shows the approver; ``request`` may be a projection."""

    peer: PeerId
    protocol: str
    direction: RequestDirection
    request: Any


Approver = Callable[[ApprovalRequest], Awaitable[bool]]
"""Returns True to allow one request."""
RuleProvider = Callable[[PeerId, RequestDirection], Awaitable["Rules | None"]]
"""Returns the rules for a peer that has none (and no default applies)."""


class Firewall:
    """Decides whether each request may pass. Rules may change at any time.

    Args:
        default: the default rules; None for none (every peer without rules is asked about).
        peers: initial per-peer rules.
        ask_timeout: seconds the approver and the rule provider get to answer.
        approver: decides requests under ``Ask``.
        rule_provider: supplies rules for peers without any.
    """

    def __init__(
        self,
        *,
        default: Rules | None = None,
        peers: Mapping[PeerId, Rules] | None = None,
        ask_timeout: float = 10.0,
        approver: Approver | None = None,
        rule_provider: RuleProvider | None = None,
    ) -> None:
        self._default = default if default is not None else Rules()
        self._peers: dict[PeerId, Rules] = dict(peers or {})
        self.ask_timeout = ask_timeout
        self.approver = approver
        self.rule_provider = rule_provider
        self._asking: dict[PeerId, trio.Event] = {}

    @classmethod
    def allow_all(cls) -> Firewall:
        """A firewall that lets every request through in both directions."""
        return cls(default=Rules.both(AllowAll()))

    # ------------------------------------------------------------------- rules
    @property
    def ask_timeout(self) -> float:
        """Seconds an approver or rule provider may take; silence means reject."""
        return self._ask_timeout

    @ask_timeout.setter
    def ask_timeout(self, seconds: float) -> None:
        if not seconds > 0:
            raise InvalidConfigError(f"ask_timeout must be positive, not {seconds!r}")
        self._ask_timeout = float(seconds)

    @property
    def default(self) -> Rules:
        """The default rules (fields are None where no default exists)."""
        return self._default

    def set_default(self, rule: Rule, direction: RequestDirection = RequestDirection.BOTH) -> None:
        """Make ``rule`` the default for ``direction``."""
        self._default = self._default.with_rule(rule, direction)

    def remove_default(self, direction: RequestDirection = RequestDirection.BOTH) -> None:
        """Remove the default for ``direction``: peers without rules are then asked about."""
        self._default = self._default.with_rule(None, direction)

    def peer_rules(self, peer: PeerId) -> Rules | None:
        """The rules set for ``peer``, or None."""
        return self._peers.get(peer)

    def set_peer_rule(
        self, peer: PeerId, rule: Rule, direction: RequestDirection = RequestDirection.BOTH
    ) -> None:
        """Give ``peer`` its own ``rule`` for ``direction``."""
        self._peers[peer] = self._peers.get(peer, Rules()).with_rule(rule, direction)

    def remove_peer_rule(
        self, peer: PeerId, direction: RequestDirection = RequestDirection.BOTH
    ) -> None:
        """Drop ``peer``'s own rule for ``direction`` (the default applies again)."""
        rules = self._peers.get(peer, Rules()).with_rule(None, direction)
        if rules == Rules():
            self._peers.pop(peer, None)
        else:
            self._peers[peer] = rules

    def rule_for(self, peer: PeerId, direction: RequestDirection) -> Rule | None:
        """The effective rule: the peer's, else the default, else None."""
        own = self._peers.get(peer)
        rule = own.get(direction) if own is not None else None
        return rule if rule is not None else self._default.get(direction)

    # --------------------------------------------------------------- deciding
    async def check(
        self, peer: PeerId, direction: RequestDirection, protocol: str, request: Any
    ) -> None:
        """Return if the request may pass.

        Raises:
            NotPermitted: the effective rule refused it (the message says which and why).
        """
        where = (
            f"inbound request on {protocol} from {peer}"
            if direction is RequestDirection.INBOUND
            else f"outbound request on {protocol} to {peer}"
        )
        rule = await self._obtain_rule(peer, direction)
        if rule is None:
            raise NotPermitted(f"{where}: no rule for the peer and no default rule")
        if isinstance(rule, AllowAll):
            return
        if isinstance(rule, RejectAll):
            raise NotPermitted(f"{where}: rejected by rule RejectAll")
        view = rule.projection(request) if rule.projection is not None else request
        if isinstance(rule, Restricted):
            if not _safely(rule.predicate, view):
                raise NotPermitted(f"{where}: refused by a Restricted rule")
            return
        refusal = await self._approve(ApprovalRequest(peer, protocol, direction, view))
        if refusal is not None:
            raise NotPermitted(f"{where}: {refusal}")

    async def _approve(self, question: ApprovalRequest) -> str | None:
        """None when the approver allowed ``question``, else why it was not allowed."""
        if self.approver is None:
            return "an Ask rule applies and no approver is set"
        with trio.move_on_after(self.ask_timeout):
            try:
                allowed = bool(await self.approver(question))
            except Exception as exc:
                logger.warning("firewall approver failed; rejecting", exc_info=True)
                return f"the approver failed ({type(exc).__name__}: {exc})"
            return None if allowed else "refused by the approver"
        logger.info("firewall approver did not answer in %s s; rejecting", self.ask_timeout)
        return f"not approved within {self.ask_timeout:g} s (the approver did not answer)"

    async def _obtain_rule(self, peer: PeerId, direction: RequestDirection) -> Rule | None:
        rule = self.rule_for(peer, direction)
        if rule is not None or self.rule_provider is None:
            return rule
        pending = self._asking.get(peer)
        if pending is not None:
            await pending.wait()
            return self.rule_for(peer, direction)
        pending = self._asking[peer] = trio.Event()
        try:
            answer: Rules | None = None
            with trio.move_on_after(self.ask_timeout):
                try:
                    answer = await self.rule_provider(peer, direction)
                except Exception:
                    logger.warning("firewall rule provider failed for %s", peer, exc_info=True)
            if answer is not None:
                self._peers[peer] = self._peers.get(peer, Rules()).merged_over(answer)
        finally:
            del self._asking[peer]
            pending.set()
        return self.rule_for(peer, direction)

    # ------------------------------------------------------- export / import
    def export_rules(self, *, skip_unnamed: bool = False) -> dict[str, Any]:
        """The rules as JSON-ready data.

        ``allow``, ``reject`` and ``ask`` are written by name; a rule holding code
        (:class:`Restricted`, an :class:`Ask` with a projection) as ``"restricted:<name>"``
        or ``"ask:<name>"`` when it has a ``name``.

        Raises:
            UnserializableRule: a rule holding code has no name (it names the rule);
                ``skip_unnamed=True`` leaves such rules out instead.
        """
        return {
            "default": _export(self._default, "default", skip_unnamed),
            "peers": {
                str(peer): _export(rules, f"peer {peer}", skip_unnamed)
                for peer, rules in self._peers.items()
            },
        }

    def named_rules(self) -> dict[str, Rule]:
        """The rules holding code that have a ``name``, by name (default and per-peer)."""
        out: dict[str, Rule] = {}
        for rules in (self._default, *self._peers.values()):
            for rule in (rules.inbound, rules.outbound):
                if isinstance(rule, Restricted | Ask) and rule.name is not None:
                    out[rule.name] = rule
        return out

    def import_rules(
        self,
        data: Mapping[str, Any],
        *,
        replace: bool = False,
        named: Mapping[str, Rule] | None = None,
    ) -> None:
        """Load rules written by :meth:`export_rules` (merged, or replacing all rules).

        ``named`` maps the names of rules holding code (``"restricted:<name>"``,
        ``"ask:<name>"``) to the rules the application re-creates; the named rules this
        firewall already holds (:meth:`named_rules`) are known without it.

        Raises:
            InvalidConfigError: ``data`` is malformed or names a rule ``named`` lacks;
                nothing was changed.
        """
        named = {**self.named_rules(), **(named or {})}
        try:
            default = _import(data.get("default", {}), named)
            peers_data = data.get("peers", {})
            if not isinstance(peers_data, Mapping):
                raise TypeError("'peers' must map peer ids to rules")
            peers = {PeerId.from_string(str(k)): _import(v, named) for k, v in peers_data.items()}
        except (AttributeError, TypeError, ValueError) as exc:
            raise InvalidConfigError(f"malformed firewall rules: {exc}") from exc
        if replace:
            self._default, self._peers = default, peers
            return
        self._default = default.merged_over(self._default)
        for peer, rules in peers.items():
            self._peers[peer] = rules.merged_over(self._peers.get(peer, Rules()))


def _safely(predicate: Callable[[Any], bool], value: Any) -> bool:
    try:
        return bool(predicate(value))
    except Exception:
        logger.warning("firewall predicate failed; rejecting", exc_info=True)
        return False


def _rule_name(rule: Rule) -> str | None:
    for name, known in _NAMES.items():
        if rule == known:
            return name
    if isinstance(rule, Restricted | Ask) and rule.name is not None:
        return f"{_KINDS[type(rule)]}:{rule.name}"
    return None


def _export(rules: Rules, where: str, skip_unnamed: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("inbound", "outbound"):
        rule: Rule | None = getattr(rules, key)
        if rule is None:
            continue
        name = _rule_name(rule)
        if name is not None:
            out[key] = name
        elif not skip_unnamed:
            raise UnserializableRule(f"{where} {key}", rule)
    return out


def _import(data: object, named: Mapping[str, Rule]) -> Rules:
    if not isinstance(data, Mapping):
        raise TypeError(f"rules must be a mapping, not {type(data).__name__}")
    unknown = set(data) - {"inbound", "outbound"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    rules: dict[str, Rule] = {}
    for key, name in data.items():
        rules[key] = _resolve(name, named)
    return Rules(**rules)


def _resolve(name: object, named: Mapping[str, Rule]) -> Rule:
    if isinstance(name, str) and name in _NAMES:
        return _NAMES[name]
    kind, _, label = name.partition(":") if isinstance(name, str) else ("", "", "")
    if kind not in _KINDS.values() or not label:
        raise ValueError(f"unknown rule {name!r} (expected one of {sorted(_NAMES)} or kind:name)")
    rule = named.get(label)
    if rule is None:
        raise ValueError(f"the rule {name!r} is not in named= (known: {sorted(named)})")
    if _KINDS.get(type(rule)) != kind:
        raise ValueError(f"named[{label!r}] is a {type(rule).__name__}, not a {kind} rule")
    return rule
