"""py-libp2p circuit relay v2 peer for the p2pstack relay interop tests.

Runs inside the py-libp2p venv (never the project's). Modes:

    relay_peer.py relay --listen MA [--listen MA ...] [--seed LABEL]
        a relay server (hop enabled); prints {"peer_id", "listen_addrs"} and runs until
        SIGTERM, SIGINT or EOF on stdin.
    relay_peer.py listen-via RELAY_MA [--seed LABEL]
        connects to the relay, reserves, serves ping and echo through it; prints
        {"peer_id", "listen_addrs": [<relay>/p2p-circuit/p2p/<us>]} and runs until stopped.
    relay_peer.py dial MA [--ping N] [--echo BYTES] [--seed LABEL] [--timeout S]
        dials a /p2p-circuit address, pings and echoes, prints one JSON line, exits 0;
        on failure prints "error: ..." on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import signal
import sys
import time
from typing import Any

import multiaddr  # type: ignore[import-not-found,import-untyped,unused-ignore]
import trio
from libp2p import new_host  # type: ignore[import-not-found,import-untyped,unused-ignore]
from libp2p.crypto.ed25519 import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    create_new_key_pair,
)
from libp2p.crypto.x25519 import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    create_new_key_pair as create_x25519_key_pair,
)
from libp2p.custom_types import TProtocol  # type: ignore[import-not-found,import-untyped,unused-ignore]
from libp2p.network.stream.exceptions import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    StreamEOF,
)
from libp2p.peer.peerinfo import info_from_p2p_addr  # type: ignore[import-not-found,import-untyped,unused-ignore]
from libp2p.relay.circuit_v2.config import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    RelayConfig,
    RelayRole,
)
from libp2p.relay.circuit_v2.protocol import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    PROTOCOL_ID as HOP_PROTOCOL,
    STOP_PROTOCOL_ID as STOP_PROTOCOL,
    CircuitV2Protocol,
)
from libp2p.relay.circuit_v2.resources import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    RelayLimits,
)
from libp2p.relay.circuit_v2.transport import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    CircuitV2Transport,
)
from libp2p.security.noise.transport import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    PROTOCOL_ID as NOISE_PROTOCOL_ID,
    Transport as NoiseTransport,
)
from libp2p.stream_muxer.yamux.yamux import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    PROTOCOL_ID as YAMUX_PROTOCOL_ID,
    Yamux,
)
from libp2p.tools.anyio_service import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    background_trio_service,
)

PING = TProtocol("/ipfs/ping/1.0.0")
ECHO = TProtocol("/echo/1.0.0")
READ_SIZE = 64 * 1024

log = logging.getLogger("interop-py-relay-peer")


class PeerError(Exception):
    pass


def make_host(seed: str | None, listen: list[Any]) -> Any:
    if seed is not None:
        key_pair = create_new_key_pair(hashlib.sha256(seed.encode()).digest())
    else:
        key_pair = create_new_key_pair()
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    return new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: noise},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        listen_addrs=listen or None,
    )


def relay_limits(args: argparse.Namespace) -> RelayLimits:
    return RelayLimits(
        duration=args.limit_duration,
        data=args.limit_data,
        max_circuit_conns=64,
        max_reservations=64,
    )


async def read_exact(stream: Any, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        try:
            data = await stream.read(n - len(buf))
        except StreamEOF:
            data = b""
        if not data:
            raise PeerError(f"unexpected EOF after {len(buf)} of {n} bytes")
        buf += data
    return bytes(buf)


async def echo_handler(stream: Any) -> None:
    try:
        while True:
            try:
                data = await stream.read(READ_SIZE)
            except StreamEOF:
                break
            if not data:
                break
            await stream.write(data)
        await stream.close()
    except Exception as exc:
        log.warning("echo handler: %r", exc)
        await stream.reset()


async def wait_for_stop() -> None:
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    return

        async def on_stdin_eof() -> None:
            stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            async with stdin:
                while await stdin.receive_some(4096):
                    pass
            nursery.cancel_scope.cancel()

        nursery.start_soon(on_signal)
        nursery.start_soon(on_stdin_eof)


def with_id(addr: Any, peer_id: str) -> str:
    s = str(addr)
    return s if "/p2p/" in s else f"{s}/p2p/{peer_id}"


async def cmd_relay(args: argparse.Namespace) -> None:
    listen = [multiaddr.Multiaddr(a) for a in args.listen]
    host = make_host(args.seed, listen)
    protocol = CircuitV2Protocol(host, limits=relay_limits(args), allow_hop=True)
    async with host.run(listen_addrs=listen), background_trio_service(protocol):
        host.set_stream_handler(HOP_PROTOCOL, protocol._handle_hop_stream)
        host.set_stream_handler(STOP_PROTOCOL, protocol._handle_stop_stream)
        peer_id = str(host.get_id())
        addrs = [with_id(a, peer_id) for a in host.get_addrs()]
        print(json.dumps({"peer_id": peer_id, "listen_addrs": addrs}), flush=True)
        await wait_for_stop()
    os._exit(0)


async def cmd_listen_via(args: argparse.Namespace) -> None:
    relay_ma = multiaddr.Multiaddr(args.target)
    relay_info = info_from_p2p_addr(relay_ma)
    host = make_host(args.seed, [])
    protocol = CircuitV2Protocol(host, limits=relay_limits(args), allow_hop=False)
    config = RelayConfig(roles=RelayRole.STOP | RelayRole.CLIENT)
    async with host.run(listen_addrs=[]), background_trio_service(protocol):
        host.set_stream_handler(STOP_PROTOCOL, protocol._handle_stop_stream)
        host.set_stream_handler(ECHO, echo_handler)
        transport = CircuitV2Transport(host, protocol, config)
        await host.connect(relay_info)
        async with trio.open_nursery() as nursery:
            stream = await host.new_stream(relay_info.peer_id, [HOP_PROTOCOL])
            if not await transport.reserve(stream, relay_info.peer_id, nursery):
                raise PeerError(f"the relay {relay_info.peer_id} refused the reservation")
            peer_id = str(host.get_id())
            circuit = f"{args.target}/p2p-circuit/p2p/{peer_id}"
            print(json.dumps({"peer_id": peer_id, "listen_addrs": [circuit]}), flush=True)
            await wait_for_stop()
            nursery.cancel_scope.cancel()
    os._exit(0)


async def do_ping(host: Any, peer_id: Any, count: int) -> list[float]:
    stream = await host.new_stream(peer_id, [PING])
    rtts: list[float] = []
    for _ in range(count):
        payload = secrets.token_bytes(32)
        t0 = time.perf_counter()
        await stream.write(payload)
        reply = await read_exact(stream, 32)
        rtts.append((time.perf_counter() - t0) * 1000.0)
        if reply != payload:
            raise PeerError("ping reply does not match")
    await stream.close()
    return rtts


async def do_echo(host: Any, peer_id: Any, size: int) -> None:
    stream = await host.new_stream(peer_id, [ECHO])
    payload = secrets.token_bytes(size)
    await stream.write(payload)
    received = await read_exact(stream, size)
    await stream.close()
    if received != payload:
        raise PeerError("echo mismatch")


async def cmd_dial(args: argparse.Namespace) -> None:
    target = multiaddr.Multiaddr(args.target)
    host = make_host(args.seed, [])
    protocol = CircuitV2Protocol(host, limits=relay_limits(args), allow_hop=False)
    config = RelayConfig(roles=RelayRole.STOP)
    async with host.run(listen_addrs=[]), background_trio_service(protocol):
        transport = CircuitV2Transport(host, protocol, config)
        t0 = time.perf_counter()
        conn = await transport.dial(target)
        result: dict[str, Any] = {"connect_ms": (time.perf_counter() - t0) * 1000.0}
        peer = conn.muxed_conn.peer_id
        result["peer_id"] = str(peer)
        if args.ping:
            result["ping_rtts_ms"] = await do_ping(host, peer, args.ping)
        if args.echo is not None:
            await do_echo(host, peer, args.echo)
            result["echo_ok"] = True
        print(json.dumps(result), flush=True)
    os._exit(0)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="relay_peer.py")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("relay", "listen-via", "dial"):
        sp = sub.add_parser(name)
        sp.add_argument("--seed", metavar="LABEL")
        sp.add_argument("--timeout", type=float, default=120.0)
        sp.add_argument("--limit-duration", type=int, default=3600)
        sp.add_argument("--limit-data", type=int, default=1 << 30)
        if name == "relay":
            sp.add_argument("--listen", action="append", required=True, metavar="MA")
        else:
            sp.add_argument("target", metavar="MA")
        if name == "dial":
            sp.add_argument("--ping", type=int, default=0)
            sp.add_argument("--echo", type=int)
    return p.parse_args(argv)


def main() -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("INTEROP_PEER_LOG", "WARNING").upper(),
        format="py-relay-peer %(levelname)s %(name)s: %(message)s",
    )
    args = parse_args(sys.argv[1:])
    commands = {"relay": cmd_relay, "listen-via": cmd_listen_via, "dial": cmd_dial}

    async def run() -> None:
        if args.cmd == "dial":
            with trio.fail_after(args.timeout):
                await commands[args.cmd](args)
        else:
            await commands[args.cmd](args)

    try:
        trio.run(run)
    except KeyboardInterrupt:
        os._exit(0)
    except BaseException as exc:
        leaves: list[BaseException] = []

        def flatten(e: BaseException) -> None:
            if isinstance(e, BaseExceptionGroup):
                for inner in e.exceptions:
                    flatten(inner)
            else:
                leaves.append(e)

        flatten(exc)
        msg = "; ".join(f"{type(e).__name__}: {e}" for e in leaves).replace("\n", " ")
        log.debug("failure", exc_info=True)
        print(f"error: {msg}", file=sys.stderr, flush=True)
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    main()
