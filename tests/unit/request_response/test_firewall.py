"""The firewall alone: rule kinds, directions, asking, timeouts, run-time changes, export."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from p2pstack.errors import InvalidConfigError
from p2pstack.identity import Identity, PeerId
from p2pstack.protocols.request_response import (
    AllowAll,
    ApprovalRequest,
    Ask,
    Firewall,
    NotPermitted,
    RejectAll,
    RequestDirection,
    Restricted,
    Rules,
    UnserializableRule,
)

ALICE: PeerId = Identity.from_ed25519_seed(b"a" * 32).peer_id
BOB: PeerId = Identity.from_ed25519_seed(b"b" * 32).peer_id
DIRECTIONS = [RequestDirection.INBOUND, RequestDirection.OUTBOUND]


async def allowed(
    fw: Firewall, peer: PeerId, direction: RequestDirection, request: Any = None
) -> bool:
    try:
        await fw.check(peer, direction, "/p", request)
    except NotPermitted:
        return False
    return True


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_allow_and_reject_all(direction: RequestDirection) -> None:
    assert await allowed(Firewall.allow_all(), ALICE, direction)
    assert not await allowed(Firewall(default=Rules.both(RejectAll())), ALICE, direction)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_rules_are_per_direction(direction: RequestDirection) -> None:
    other = (
        RequestDirection.OUTBOUND
        if direction is RequestDirection.INBOUND
        else RequestDirection.INBOUND
    )
    fw = Firewall.allow_all()
    fw.set_default(RejectAll(), direction)
    assert not await allowed(fw, ALICE, direction)
    assert await allowed(fw, ALICE, other)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_restricted_with_and_without_projection(direction: RequestDirection) -> None:
    seen: list[Any] = []

    def small(size: int) -> bool:
        seen.append(size)
        return size < 3

    fw = Firewall(default=Rules.both(Restricted(small, projection=len)))
    assert await allowed(fw, ALICE, direction, "ab")
    assert not await allowed(fw, ALICE, direction, "abc")
    assert seen == [2, 3]  # the predicate saw only the projection
    fw.set_default(Restricted(lambda r: r == "ok"))
    assert await allowed(fw, ALICE, direction, "ok")
    assert not await allowed(fw, ALICE, direction, "no")


async def test_restricted_predicate_that_raises_rejects() -> None:
    fw = Firewall(default=Rules.both(Restricted(lambda r: 1 / 0 > 0)))
    assert not await allowed(fw, ALICE, RequestDirection.INBOUND, "x")


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_ask_shows_the_projection_and_obeys(direction: RequestDirection) -> None:
    questions: list[ApprovalRequest] = []

    async def approver(question: ApprovalRequest) -> bool:
        questions.append(question)
        return bool(question.request["ok"])

    fw = Firewall(default=Rules.both(Ask(projection=lambda r: {"ok": r["ok"]})), approver=approver)
    assert await allowed(fw, ALICE, direction, {"ok": True, "secret": 1})
    assert not await allowed(fw, ALICE, direction, {"ok": False, "secret": 2})
    assert [q.request for q in questions] == [{"ok": True}, {"ok": False}]
    assert questions[0].peer == ALICE
    assert questions[0].direction is direction
    assert questions[0].protocol == "/p"


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_ask_timeout_means_reject(
    direction: RequestDirection, autojump_clock: trio.testing.MockClock
) -> None:
    async def never(question: ApprovalRequest) -> bool:
        await trio.sleep_forever()
        raise AssertionError

    fw = Firewall(default=Rules.both(Ask()), approver=never, ask_timeout=7)
    start = trio.current_time()
    with pytest.raises(NotPermitted, match="not approved within 7 s"):
        await fw.check(ALICE, direction, "/p", None)
    assert trio.current_time() - start == pytest.approx(7)


async def test_ask_without_approver_or_failing_approver_rejects() -> None:
    async def broken(question: ApprovalRequest) -> bool:
        raise RuntimeError("boom")

    fw = Firewall(default=Rules.both(Ask()))
    assert not await allowed(fw, ALICE, RequestDirection.INBOUND)
    fw.approver = broken
    assert not await allowed(fw, ALICE, RequestDirection.INBOUND)


def test_ask_timeout_setter_sets_the_ask_timeout() -> None:
    fw = Firewall()
    fw.ask_timeout = 3
    assert fw.ask_timeout == 3.0
    with pytest.raises(InvalidConfigError):
        fw.ask_timeout = 0


async def test_peer_rule_overrides_default_and_can_be_removed() -> None:
    fw = Firewall.allow_all()
    fw.set_peer_rule(ALICE, RejectAll(), RequestDirection.INBOUND)
    assert not await allowed(fw, ALICE, RequestDirection.INBOUND)
    assert await allowed(fw, ALICE, RequestDirection.OUTBOUND)
    assert await allowed(fw, BOB, RequestDirection.INBOUND)
    fw.remove_peer_rule(ALICE)
    assert fw.peer_rules(ALICE) is None
    assert await allowed(fw, ALICE, RequestDirection.INBOUND)


async def test_removing_the_default_really_removes_it() -> None:
    fw = Firewall.allow_all()
    fw.remove_default(RequestDirection.OUTBOUND)
    assert fw.default == Rules(inbound=AllowAll())
    assert not await allowed(fw, ALICE, RequestDirection.OUTBOUND)
    assert await allowed(fw, ALICE, RequestDirection.INBOUND)
    fw.remove_default()
    assert fw.default == Rules()
    with pytest.raises(NotPermitted, match="no rule"):
        await fw.check(ALICE, RequestDirection.INBOUND, "/p", None)


async def test_rule_provider_asked_once_and_its_answer_kept() -> None:
    asked: list[tuple[PeerId, RequestDirection]] = []
    release = trio.Event()

    async def provider(peer: PeerId, direction: RequestDirection) -> Rules | None:
        asked.append((peer, direction))
        await release.wait()
        return Rules(inbound=AllowAll(), outbound=RejectAll())

    fw = Firewall(rule_provider=provider)
    results: list[bool] = []

    async def one() -> None:
        results.append(await allowed(fw, ALICE, RequestDirection.INBOUND))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(one)
        await trio.testing.wait_all_tasks_blocked()
        release.set()
    assert results == [True, True, True]
    assert asked == [(ALICE, RequestDirection.INBOUND)]
    assert fw.peer_rules(ALICE) == Rules(inbound=AllowAll(), outbound=RejectAll())
    assert not await allowed(fw, ALICE, RequestDirection.OUTBOUND)
    assert len(asked) == 1


async def test_rule_provider_silence_rejects_and_asks_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls = 0

    async def slow(peer: PeerId, direction: RequestDirection) -> Rules | None:
        nonlocal calls
        calls += 1
        await trio.sleep(100)
        return Rules.both(AllowAll())

    fw = Firewall(rule_provider=slow, ask_timeout=5)
    start = trio.current_time()
    assert not await allowed(fw, ALICE, RequestDirection.INBOUND)
    assert trio.current_time() - start == pytest.approx(5)
    assert fw.peer_rules(ALICE) is None
    assert not await allowed(fw, ALICE, RequestDirection.INBOUND)
    assert calls == 2


async def test_default_rule_means_the_provider_is_not_asked() -> None:
    async def provider(peer: PeerId, direction: RequestDirection) -> Rules | None:
        raise AssertionError("must not be asked")

    fw = Firewall(default=Rules(inbound=RejectAll()), rule_provider=provider)
    assert not await allowed(fw, ALICE, RequestDirection.INBOUND)


def test_export_import_round_trip() -> None:
    fw = Firewall(default=Rules(inbound=Ask(), outbound=AllowAll()))
    fw.set_peer_rule(ALICE, RejectAll())
    fw.set_peer_rule(BOB, Restricted(bool), RequestDirection.INBOUND)  # code: not exported
    fw.set_peer_rule(BOB, Ask(), RequestDirection.OUTBOUND)
    with pytest.raises(UnserializableRule, match=f"peer {BOB} inbound rule Restricted"):
        fw.export_rules()
    data = fw.export_rules(skip_unnamed=True)
    assert data == {
        "default": {"inbound": "ask", "outbound": "allow"},
        "peers": {
            str(ALICE): {"inbound": "reject", "outbound": "reject"},
            str(BOB): {"outbound": "ask"},
        },
    }
    other = Firewall()
    other.import_rules(data)
    assert other.export_rules() == data
    assert other.peer_rules(BOB) == Rules(outbound=Ask())


def test_import_replace_and_malformed_input() -> None:
    fw = Firewall.allow_all()
    fw.set_peer_rule(ALICE, RejectAll())
    fw.import_rules({"default": {"inbound": "reject"}}, replace=True)
    assert fw.default == Rules(inbound=RejectAll())
    assert fw.peer_rules(ALICE) is None
    bad: dict[str, Any]
    for bad in (
        {"default": {"inbound": "maybe"}},
        {"default": {"sideways": "allow"}},
        {"peers": {"not-a-peer": {}}},
        {"peers": []},
    ):
        with pytest.raises(InvalidConfigError):
            fw.import_rules(bad)
    assert fw.default == Rules(inbound=RejectAll())
