"""``TcpConfig(reuse_port=True)``: dials leave from the listening port (as go-libp2p's), fall
back to an ephemeral port when that 4-tuple is taken, and a TCP simultaneous open between two
such transports yields one connection on each side."""

from __future__ import annotations

import trio

from p2pstack.abc.transport import RawConnection
from p2pstack.multiaddr import Multiaddr
from p2pstack.transports.tcp import TcpConfig, TcpTransport, tcp

REUSE = TcpConfig(reuse_port=True)


def port_of(addr: Multiaddr | None) -> int:
    assert addr is not None
    value = addr.value_for("tcp")
    assert value is not None
    return int(value)


async def close(*raws: RawConnection) -> None:
    for raw in raws:
        await raw.stream.aclose()


async def test_dials_leave_from_the_listening_port() -> None:
    a, b = tcp(REUSE), tcp(REUSE)
    la = await a.listen(Multiaddr("/ip4/0.0.0.0/tcp/0"))
    lb = await b.listen(Multiaddr("/ip4/127.0.0.1/tcp/0"))
    a_port = port_of(la.listen_addrs[0])
    out = await a.dial(lb.listen_addrs[0])
    inbound = await lb.accept()
    assert port_of(out.local_addr) == a_port
    assert port_of(inbound.remote_addr) == a_port
    # The same destination again: that 4-tuple is taken, the dial falls back.
    again = await a.dial(lb.listen_addrs[0])
    assert port_of(again.local_addr) != a_port
    await close(out, inbound, again, await lb.accept())
    await la.aclose()
    await lb.aclose()


async def test_without_reuse_port_dials_use_ephemeral_ports() -> None:
    a, b = tcp(), tcp()
    la = await a.listen(Multiaddr("/ip4/127.0.0.1/tcp/0"))
    lb = await b.listen(Multiaddr("/ip4/127.0.0.1/tcp/0"))
    out = await a.dial(lb.listen_addrs[0])
    assert port_of(out.local_addr) != port_of(la.listen_addrs[0])
    await close(out, await lb.accept())
    await la.aclose()
    await lb.aclose()


async def test_closed_listener_is_not_dialled_from() -> None:
    a, b = tcp(REUSE), tcp(REUSE)
    la = await a.listen(Multiaddr("/ip4/127.0.0.1/tcp/0"))
    lb = await b.listen(Multiaddr("/ip4/127.0.0.1/tcp/0"))
    a_port = port_of(la.listen_addrs[0])
    await la.aclose()
    out = await a.dial(lb.listen_addrs[0])
    assert port_of(out.local_addr) != a_port
    await close(out, await lb.accept())
    await lb.aclose()


async def test_simultaneous_open_is_one_connection() -> None:
    # Two reuse-port transports dial each other's listening port from their own at once.
    # On loopback a SYN reaches the other listener unless the other side's SYN is already
    # out, so a real simultaneous open is rare here: whichever way the kernel resolves it,
    # each side ends up with exactly one connection with the other's listening port.
    a, b = tcp(REUSE), tcp(REUSE)
    la = await a.listen(Multiaddr("/ip4/127.0.0.1/tcp/0"))
    lb = await b.listen(Multiaddr("/ip4/127.0.0.1/tcp/0"))
    results: dict[str, RawConnection | BaseException] = {}

    async def dial(name: str, transport: TcpTransport, addr: Multiaddr) -> None:
        try:
            results[name] = await transport.dial(addr)
        except Exception as exc:
            results[name] = exc

    async with trio.open_nursery() as nursery:
        nursery.start_soon(dial, "a", a, lb.listen_addrs[0])
        nursery.start_soon(dial, "b", b, la.listen_addrs[0])
    conns = [r for r in results.values() if isinstance(r, RawConnection)]
    assert conns, results
    a_side = [results["a"]] if isinstance(results["a"], RawConnection) else []
    b_side = [results["b"]] if isinstance(results["b"], RawConnection) else []
    accepted: list[RawConnection] = []
    for listener, side in ((la, a_side), (lb, b_side)):
        with trio.move_on_after(0.2):
            side.append(await listener.accept())
            accepted.append(side[-1])
    a_port, b_port = port_of(la.listen_addrs[0]), port_of(lb.listen_addrs[0])
    for side, ours, theirs in ((a_side, a_port, b_port), (b_side, b_port, a_port)):
        pairs = [(port_of(c.local_addr), port_of(c.remote_addr)) for c in side]
        assert pairs.count((ours, theirs)) == 1, (pairs, results)
    await close(*conns, *accepted)
    await la.aclose()
    await lb.aclose()
