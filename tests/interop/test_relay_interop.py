"""Circuit relay v2 against js-libp2p and py-libp2p (relays, listeners and dialers).

* our node behind a js or py relay, dialled by js, py and p2pstack;
* js and py nodes behind a p2pstack relay, dialled by each other and by p2pstack;
* a connect to a peer without a reservation is refused (NO_RESERVATION);
* a circuit through a js relay is cut at its data limit, and our side says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.errors import DialError, LimitExceeded
from p2pstack.host.netstream import NetStream
from p2pstack.host.node import Node
from p2pstack.identity import Identity
from p2pstack.protocols.identify import identify
from p2pstack.protocols.ping import ping, ping_peer
from p2pstack.protocols.relay import RelayConfig, RelayRefused, RelayService, Status, relay_server
from tests.interop.peers import (
    INTEROP_DIR,
    Impl,
    InteropPeerError,
    ListeningPeer,
    run_script,
    script_listening,
)

LOOPBACK = "/ip4/127.0.0.1/tcp/0"
SCRIPTS = {"js": INTEROP_DIR / "js" / "relay_peer.mjs", "py": INTEROP_DIR / "py" / "relay_peer.py"}
Dialer = Literal["js", "py", "p2pstack"]


async def echo_any(stream: NetStream) -> None:
    while data := await stream.receive_some():
        await stream.send_all(data)
    await stream.send_eof()


@asynccontextmanager
async def foreign_relay(impl: Impl, *extra: str) -> AsyncIterator[ListeningPeer]:
    async with script_listening(impl, SCRIPTS[impl], ["relay", "--listen", LOOPBACK, *extra]) as p:
        yield p


@asynccontextmanager
async def our_listener(relay_addr: str) -> AsyncIterator[Node]:
    async with open_node(protocols=[ping(), identify()]) as node:
        node.set_stream_handler("/echo/1.0.0", echo_any, allow_limited=True)
        await node.listen(f"{relay_addr}/p2p-circuit")
        yield node


@asynccontextmanager
async def our_relay(config: RelayConfig | None = None) -> AsyncIterator[tuple[Node, RelayService]]:
    service = relay_server(config)
    async with open_node(listen=[LOOPBACK], services=[service]) as relay:
        yield relay, service


async def dial(dialer: Dialer, target: str, *, pings: int = 3) -> dict[str, Any]:
    if dialer == "p2pstack":
        async with open_node() as node:
            conn = await node.dial(target)
            rtts = await ping_peer(node, conn, count=pings)
            return {"peer_id": str(conn.peer_id), "ping_rtts_ms": rtts, "limited": conn.limited}
    return await run_script(dialer, SCRIPTS[dialer], ["dial", target, "--ping", str(pings)])


def check_dialled(result: dict[str, Any], peer_id: str) -> None:
    assert result["peer_id"] == peer_id
    assert len(result["ping_rtts_ms"]) == 3


# ---------------------------------------------------- p2pstack behind foreign relays


@pytest.mark.parametrize("dialer", ["js", "py", "p2pstack"])
@pytest.mark.parametrize("relay_impl", ["js", "py"])
async def test_p2pstack_behind_foreign_relay(
    relay_impl: Impl, dialer: Dialer, js_installed: None, py_installed: None
) -> None:
    async with foreign_relay(relay_impl) as relay, our_listener(relay.addr()) as node:
        circuit = [a for a in node.addrs if a.has_protocol("p2p-circuit")]
        assert circuit, node.addrs
        assert str(circuit[0]).startswith(relay.addr())
        result = await dial(dialer, str(circuit[0]))
        check_dialled(result, str(node.peer_id))


async def test_p2pstack_dialler_sees_limited_connection(
    js_installed: None, py_installed: None
) -> None:
    async with (
        foreign_relay("js") as relay,
        our_listener(relay.addr()) as node,
        open_node() as dialer,
    ):
        conn = await dialer.dial(node.addrs[0])
        assert conn.limited
        await ping_peer(dialer, conn, count=1)  # the listener has finished its side too
        inbound = [c for c in node.connections if c.peer_id == dialer.peer_id]
        assert inbound
        assert inbound[0].limited


# -------------------------------------------------- foreign nodes behind our relay


@pytest.mark.parametrize("dialer", ["other", "p2pstack"])
@pytest.mark.parametrize("listener_impl", ["js", "py"])
async def test_foreign_behind_p2pstack_relay(
    listener_impl: Impl, dialer: str, js_installed: None, py_installed: None
) -> None:
    async with (
        our_relay() as (relay, service),
        script_listening(
            listener_impl, SCRIPTS[listener_impl], ["listen-via", str(relay.addrs[0])]
        ) as peer,
    ):
        target = next(a for a in peer.listen_addrs if "/p2p-circuit" in a)
        who: Dialer = (
            "p2pstack" if dialer == "p2pstack" else ("py" if listener_impl == "js" else "js")
        )
        result = await dial(who, target)
        check_dialled(result, peer.peer_id)
        assert service.metrics.circuits_opened >= 1
        assert service.metrics.reservations_accepted >= 1


# ------------------------------------------------------------ refusals and limits


@pytest.mark.parametrize("dialer", ["js", "py"])
async def test_foreign_connect_without_reservation_refused(
    dialer: Impl, js_installed: None, py_installed: None
) -> None:
    nobody = Identity.generate().peer_id
    async with our_relay() as (relay, service):
        target = f"{relay.addrs[0]}/p2p-circuit/p2p/{nobody}"
        with pytest.raises(InteropPeerError) as info:
            await run_script(
                dialer, SCRIPTS[dialer], ["dial", target, "--ping", "1"], time_limit=60
            )
        text = str(info.value)
        assert "NO_RESERVATION" in text or "204" in text, text
        assert service.metrics.refusals["NO_RESERVATION"] >= 1


async def test_p2pstack_connect_without_reservation_on_js_relay(
    js_installed: None,
) -> None:
    nobody = Identity.generate().peer_id
    async with foreign_relay("js") as relay, open_node() as node:
        with pytest.raises(DialError) as info:
            await node.dial(f"{relay.addr()}/p2p-circuit/p2p/{nobody}")
        refused = [e for _, e in info.value.attempts if isinstance(e, RelayRefused)]
        assert refused
        assert refused[0].status == Status.NO_RESERVATION


async def test_circuit_cut_at_js_relay_data_limit(js_installed: None) -> None:
    async with (
        foreign_relay("js", "--limit-data", "65536") as relay,
        our_listener(relay.addr()) as node,
        open_node() as dialer,
    ):
        conn = await dialer.dial(node.addrs[0])
        stream = await conn.new_stream("/echo/1.0.0", allow_limited=True)
        with pytest.raises(trio.BrokenResourceError), trio.fail_after(30):
            await echo_rounds(stream, 64)
        await conn.wait_closed()
        assert_cut_at_data_limit(conn.close_cause)


async def echo_rounds(stream: NetStream, rounds: int) -> None:
    for _ in range(rounds):
        await stream.send_all(bytes(16384))
        await stream.receive_exactly(16384)


def assert_cut_at_data_limit(error: BaseException | None) -> None:
    cause = error
    while cause is not None and not isinstance(cause, LimitExceeded):
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, LimitExceeded), repr(error)
    assert cause.limit == "relay.circuit.data"
    assert not cause.local
