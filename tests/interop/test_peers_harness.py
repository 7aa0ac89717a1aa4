"""Validate the interop harness by making the real peers talk to each other.

js-libp2p <-> py-libp2p in both directions (plus js<->js and py<->py as references):
ping, identify, echo (1 MiB), 16 concurrent echo streams, perf 64 MiB each way.
Run with ``-s`` to see the measured figures.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

import pytest
import trio

from tests.interop.peers import (
    Impl,
    InteropPeerError,
    InteropSetupError,
    ListeningPeer,
    peer_listening,
    py_peer_command,
    run_dial,
)

pytestmark = pytest.mark.interop

MiB = 1024 * 1024
PERF_BYTES = 64 * MiB
SEED = "p2pstack-interop-seed"
# Ed25519 seed = sha256(SEED): js and py must derive this same peer id.
PAIRS: list[tuple[Impl, Impl]] = [("py", "js"), ("js", "py"), ("js", "js"), ("py", "py")]
PAIR_IDS = [f"{dialer}->{listener}" for dialer, listener in PAIRS]

EXPECTED_PROTOCOLS = {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/echo/1.0.0", "/perf/1.0.0"}


def _report(label: str, result: dict[str, Any]) -> None:
    parts = [f"connect {result['connect_ms']:.1f} ms"]
    if "ping_rtts_ms" in result:
        parts.append(f"ping median {statistics.median(result['ping_rtts_ms']):.2f} ms")
    if "perf" in result:
        perf = result["perf"]
        parts.append(
            f"perf up {perf['upload_mb_s']:.1f} MB/s, down {perf['download_mb_s']:.1f} MB/s"
        )
    print(f"[interop] {label}: " + ", ".join(parts))


@pytest.fixture(params=["js", "py"])
def impl(request: pytest.FixtureRequest) -> Impl:
    value: Impl = request.param
    return value


# ------------------------------------------------------------------ the harness


async def test_listener_prints_addresses(impl: Impl) -> None:
    async with peer_listening(impl) as peer:
        assert peer.peer_id.startswith("12D3KooW")
        assert peer.listen_addrs
        for addr in peer.listen_addrs:
            assert addr.startswith("/ip4/127.0.0.1/tcp/")
            assert addr.endswith(f"/p2p/{peer.peer_id}")
        assert peer.is_running()
    assert not peer.is_running()


async def test_seed_gives_the_same_peer_id_in_js_and_py() -> None:
    async with (
        peer_listening("js", seed=SEED) as js,
        peer_listening("py", seed=SEED) as py,
    ):
        assert js.peer_id == py.peer_id
    async with peer_listening("js", seed=SEED + "-other") as other:
        assert other.peer_id != js.peer_id


async def test_listener_is_stopped_when_the_block_fails(impl: Impl) -> None:
    seen: list[ListeningPeer] = []

    async def fail_inside() -> None:
        async with peer_listening(impl) as peer:
            seen.append(peer)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_inside()
    assert seen
    assert seen[0].process.returncode is not None


async def test_listener_is_stopped_when_cancelled(impl: Impl) -> None:
    seen: list[ListeningPeer] = []
    with trio.CancelScope() as scope:
        async with peer_listening(impl) as peer:
            seen.append(peer)
            scope.cancel()
            await trio.sleep_forever()
    assert seen
    assert seen[0].process.returncode is not None


async def test_dial_failure_raises_with_the_peer_error(impl: Impl) -> None:
    # The address names a different peer id than the listener's key: the dial must fail
    # (py-libp2p's Noise refuses; js-libp2p 2.10 connects, and peer.mjs then refuses).
    async with peer_listening("py", seed="fake") as fake:
        fake_id = fake.peer_id
    for listener in ("js", "py"):
        async with peer_listening(listener, seed="real") as peer:
            wrong = f"{peer.addr().split('/p2p/')[0]}/p2p/{fake_id}"
            with pytest.raises(InteropPeerError, match=f"{impl} dial failed"):
                await run_dial(impl, wrong, ping=1, dial_timeout=30)


async def test_missing_py_venv_fails_with_setup_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("P2PSTACK_PYLIBP2P_VENV", str(tmp_path / "nope"))
    with pytest.raises(InteropSetupError, match=r"setup-interop-peers\.sh"):
        py_peer_command()


# ------------------------------------------------------------- peers talk to peers


@pytest.mark.parametrize(("dialer", "listener"), PAIRS, ids=PAIR_IDS)
async def test_ping_identify_echo(dialer: Impl, listener: Impl) -> None:
    async with peer_listening(listener, seed="listener") as peer:
        result = await run_dial(dialer, peer.addr(), ping=10, identify=True, echo=MiB)
    _report(f"{dialer}->{listener}", result)
    assert result["peer_id"] == peer.peer_id
    assert result["connect_ms"] > 0
    rtts = result["ping_rtts_ms"]
    assert len(rtts) == 10
    assert all(0 < r < 1000 for r in rtts)
    ident = result["identify"]
    assert set(ident["protocols"]) >= EXPECTED_PROTOCOLS
    expected_agent = "js-libp2p/" if listener == "js" else "py-libp2p/"
    assert ident["agent_version"].startswith(expected_agent)
    assert any(a.startswith("/ip4/127.0.0.1/tcp/") for a in ident["listen_addrs"])
    assert ident["observed_addr"].startswith("/ip4/127.0.0.1/tcp/")
    assert result["echo_ok"] is True
    assert result["echo_bytes"] == MiB


@pytest.mark.parametrize(("dialer", "listener"), PAIRS[:2], ids=PAIR_IDS[:2])
async def test_concurrent_echo_streams(dialer: Impl, listener: Impl) -> None:
    async with peer_listening(listener) as peer:
        result = await run_dial(dialer, peer.addr(), echo=64 * 1024, streams=16)
    assert result["echo_ok"] is True
    assert result["streams_ok"] == 16
    assert result["echo_bytes"] == 64 * 1024


@pytest.mark.parametrize(("dialer", "listener"), PAIRS, ids=PAIR_IDS)
async def test_perf(dialer: Impl, listener: Impl) -> None:
    size = int(os.environ.get("INTEROP_PERF_BYTES", PERF_BYTES))
    async with peer_listening(listener) as peer:
        result = await run_dial(
            dialer, peer.addr(), perf_upload=size, perf_download=size, dial_timeout=600
        )
    _report(f"{dialer}->{listener} perf {size // MiB} MiB", result)
    perf = result["perf"]
    assert perf["upload_bytes"] == size
    assert perf["download_bytes"] == size
    assert perf["seconds"] > 0
    assert perf["upload_mb_s"] > 1
    assert perf["download_mb_s"] > 1


@pytest.mark.parametrize(("dialer", "listener"), PAIRS[:2], ids=PAIR_IDS[:2])
async def test_websocket(dialer: Impl, listener: Impl) -> None:
    listen = ["/ip4/127.0.0.1/tcp/0/ws"]
    async with peer_listening(listener, listen=listen) as peer:
        result = await run_dial(dialer, peer.addr("ws"), ping=3, echo=256 * 1024)
    assert result["peer_id"] == peer.peer_id
    assert len(result["ping_rtts_ms"]) == 3
    assert result["echo_ok"] is True
