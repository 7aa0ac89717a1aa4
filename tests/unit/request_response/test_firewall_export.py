"""The firewall never drops a rule silently on export, and says why an Ask refused."""

from __future__ import annotations

from typing import Any

import pytest

from p2pstack.errors import InvalidConfigError
from p2pstack.identity import Identity
from p2pstack.protocols.request_response import (
    AllowAll,
    ApprovalRequest,
    Ask,
    Firewall,
    NotPermitted,
    RequestDirection,
    Restricted,
    Rules,
    UnserializableRule,
)

ALICE = Identity.from_ed25519_seed(b"a" * 32).peer_id
INBOUND = RequestDirection.INBOUND


def _small(request: Any) -> bool:
    return len(request) < 4


def test_a_default_ask_rule_with_a_projection_is_not_dropped() -> None:
    fw = Firewall(default=Rules.both(Ask(projection=len)))
    with pytest.raises(UnserializableRule) as info:
        fw.export_rules()
    assert info.value.where == "default inbound"
    assert info.value.rule == Ask(projection=len)
    assert isinstance(info.value, InvalidConfigError)
    assert fw.export_rules(skip_unnamed=True) == {"default": {}, "peers": {}}


def test_named_rules_holding_code_round_trip_by_name() -> None:
    small = Restricted(_small, name="small")
    review = Ask(projection=len, name="review")
    fw = Firewall(default=Rules(inbound=review, outbound=AllowAll()))
    fw.set_peer_rule(ALICE, small, INBOUND)
    data = fw.export_rules()
    assert data == {
        "default": {"inbound": "ask:review", "outbound": "allow"},
        "peers": {str(ALICE): {"inbound": "restricted:small"}},
    }
    other = Firewall()
    other.import_rules(data, named={"small": small, "review": review})
    assert other.default == fw.default
    assert other.peer_rules(ALICE) == Rules(inbound=small)
    assert other.export_rules() == data
    with pytest.raises(InvalidConfigError, match="'restricted:small' is not in named="):
        Firewall().import_rules(data, named={"review": review})
    with pytest.raises(InvalidConfigError, match="not a restricted rule"):
        Firewall().import_rules(data, named={"small": review, "review": review})


async def test_an_approver_saying_no_is_a_refusal_not_a_timeout() -> None:
    async def no(question: ApprovalRequest) -> bool:
        return False

    fw = Firewall(default=Rules.both(Ask()), approver=no, ask_timeout=2)
    with pytest.raises(NotPermitted, match="refused by the approver") as info:
        await fw.check(ALICE, INBOUND, "/p", None)
    assert "within" not in str(info.value)
    fw.approver = None
    with pytest.raises(NotPermitted, match="no approver is set"):
        await fw.check(ALICE, INBOUND, "/p", None)
