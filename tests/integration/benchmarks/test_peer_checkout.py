"""Where ``p2pstack bench`` finds the js, py and Go peers: the checkout it runs from, or the
one ``P2PSTACK_CHECKOUT`` names; without one (an installed package) a hint, never a path into
the installed package. (The installed package itself: tests/packaging/test_wheel.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pstack.benchmarks import checkout
from p2pstack.benchmarks.peers import go_missing, peer_command

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_repository_is_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(checkout.ENV, raising=False)
    assert checkout.checkout() == REPO_ROOT
    assert checkout.child_cwd() == REPO_ROOT
    # In the repository every peer is installed (scripts/setup --full): none is missing.
    assert peer_command("js").missing is None
    assert peer_command("py").missing is None
    assert go_missing() is None
    assert peer_command("js").argv[1] == str(REPO_ROOT / "tests" / "interop" / "js" / "peer.mjs")


def test_installed_package_gets_a_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    site = tmp_path / "site-packages" / "p2pstack"
    site.mkdir(parents=True)
    monkeypatch.delenv(checkout.ENV, raising=False)
    monkeypatch.setattr(checkout, "PACKAGE_PARENT", site)
    assert checkout.checkout() is None
    assert checkout.child_cwd() is None
    for missing in (peer_command("js").missing, peer_command("py").missing):
        assert missing is not None
        assert "set P2PSTACK_CHECKOUT to its path" in missing
        assert "run scripts/setup-interop-peers.sh" in missing
        assert "site-packages" not in missing
    missing = go_missing()
    assert missing is not None
    assert "set P2PSTACK_CHECKOUT to its path" in missing
    assert "setup-interop-peers" not in missing  # Go comes from Debian (said once it's found)


def test_environment_variable_names_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(checkout, "PACKAGE_PARENT", tmp_path)
    monkeypatch.setenv(checkout.ENV, str(REPO_ROOT))
    assert checkout.checkout() == REPO_ROOT
    assert peer_command("py").argv[1] == str(REPO_ROOT / "tests" / "interop" / "py" / "peer.py")
    assert checkout.child_cwd() is None  # children run where the user runs p2pstack


def test_environment_variable_not_a_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(checkout.ENV, str(tmp_path))
    missing = peer_command("js").missing
    assert missing is not None
    assert f"P2PSTACK_CHECKOUT={tmp_path} is not a p2pstack checkout" in missing
