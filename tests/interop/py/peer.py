"""py-libp2p interop peer for the p2pstack test-suite.

Runs inside its OWN virtual environment (see scripts/setup-interop-peers.sh),
never in the project's venv.  The CLI contract is shared with ../js/peer.mjs:

    peer.py listen --listen MA [--listen MA ...] [--seed LABEL] [--mdns [--mdns-dial]]
    peer.py dial MA [--seed LABEL] [--ping N] [--identify] [--echo BYTES] [--streams K]
                    [--perf-upload BYTES] [--perf-download BYTES] [--timeout S]
                    [--listen MA ...] [--autonat]

`listen` prints one JSON line {"peer_id", "listen_addrs"} and runs until SIGTERM,
SIGINT or EOF on stdin.  `dial` prints one JSON line with the results and exits 0,
or prints a one-line error on stderr and exits 1.  Transport: TCP (plus WebSocket
for addresses ending in /ws, py-libp2p's QUIC for /udp/N/quic-v1 addresses: its own TLS and
streams), security: Noise (or TLS with --security tls), muxer: Yamux only.

`listen --autonat` also runs py-libp2p's AutoNAT v1 service (the server side); `dial
--autonat` asks the target, with py-libp2p's v1 client, to dial the `--listen` addresses back
and reports {"autonat": {"status": N, "addr": MA|null}}.

`listen --mdns` enables py-libp2p's mDNS (zeroconf on every interface of the host or
network namespace: run it only inside a test's namespace) and prints, after the listening
line, one JSON line {"discovered": "<peer id>", "addrs": [...]} per peer found; with
`--mdns-dial` it then connects, pings once and prints {"connected": "<peer id>",
"ping_ms": N} (or {"dial_failed": "<peer id>", "error": "..."}).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import signal
import statistics
import struct
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
from libp2p.identity.identify.pb.identify_pb2 import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    Identify,
)
from libp2p.network.stream.exceptions import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    StreamEOF,
    StreamReset,
)
from libp2p.peer.envelope import consume_envelope  # type: ignore[import-not-found,import-untyped,unused-ignore]
from libp2p.peer.peerinfo import info_from_p2p_addr  # type: ignore[import-not-found,import-untyped,unused-ignore]
from libp2p.security.noise.transport import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    PROTOCOL_ID as NOISE_PROTOCOL_ID,
    Transport as NoiseTransport,
)
from libp2p.security.tls.transport import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    PROTOCOL_ID as TLS_PROTOCOL_ID,
    TLSTransport,
)
from libp2p.stream_muxer.yamux.yamux import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    PROTOCOL_ID as YAMUX_PROTOCOL_ID,
    Yamux,  # type: ignore[import-not-found,import-untyped,unused-ignore]
)

PING = TProtocol("/ipfs/ping/1.0.0")
IDENTIFY = TProtocol("/ipfs/id/1.0.0")
ECHO = TProtocol("/echo/1.0.0")
PERF = TProtocol("/perf/1.0.0")
CHUNK = 256 * 1024
ZEROS = bytes(CHUNK)
READ_SIZE = 256 * 1024

log = logging.getLogger("interop-py-peer")


class PeerError(Exception):
    pass


_state = {"printed": False}


# --------------------------------------------------------------------- helpers


def make_host(
    seed: str | None,
    listen: list[Any],
    websocket: bool,
    mdns: bool = False,
    security: str = "noise",
    quic: bool = False,
) -> Any:
    if seed is not None:
        key_pair = create_new_key_pair(hashlib.sha256(seed.encode()).digest())
    else:
        key_pair = create_new_key_pair()
    sec_opt: dict[Any, Any]
    if security == "tls":
        sec_opt = {TLS_PROTOCOL_ID: TLSTransport(key_pair)}
    else:
        noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
        sec_opt = {NOISE_PROTOCOL_ID: noise}
    return new_host(
        key_pair=key_pair,
        sec_opt=sec_opt,
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        listen_addrs=listen or None,
        enable_websocket=websocket,
        enable_tcp=True,
        enable_mDNS=mdns,
        enable_quic=quic,
    )


async def half_close(stream: Any) -> None:
    """Send EOF but keep reading: yamux's close() is a half-close, QUIC's closes both sides
    (its close_write() is the half-close)."""
    muxed = getattr(stream, "muxed_stream", stream)
    if type(muxed).__name__ == "QUICStream":
        await muxed.close_write()
    else:
        await stream.close()


async def read_some(stream: Any) -> bytes:
    """Return the next chunk (at most READ_SIZE bytes), or b"" at EOF.

    An explicit size matters: py-libp2p's yamux `read()` without one concatenates
    everything buffered (up to its 16 MiB window) in 64 KiB slices, which is
    quadratic and slows a fast sender (js) down to a few MB/s.
    """
    try:
        data: bytes = await stream.read(READ_SIZE)
    except StreamEOF:
        return b""
    except StreamReset:
        # py-libp2p 0.8.1 QUIC: once both sides sent FIN the stream is CLOSED and a read of
        # the empty buffer raises (as StreamReset) instead of returning EOF.
        muxed = getattr(stream, "muxed_stream", None)
        state = getattr(getattr(muxed, "_state", None), "name", None)
        if type(muxed).__name__ == "QUICStream" and state == "CLOSED":
            return b""
        raise
    return data


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


async def write_n(stream: Any, n: int) -> None:
    while n > 0:
        k = min(n, CHUNK)
        await stream.write(ZEROS if k == CHUNK else ZEROS[:k])
        n -= k


def read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise PeerError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise PeerError("varint too long")


def ma_str(raw: bytes) -> str:
    return str(multiaddr.Multiaddr(raw))


# -------------------------------------------------------------------- handlers


async def echo_handler(stream: Any) -> None:
    try:
        while True:
            data = await read_some(stream)
            if not data:
                break
            await stream.write(data)
        await stream.close()
    except Exception as exc:
        log.warning("echo handler: %r", exc)
        await stream.reset()


async def perf_handler(stream: Any) -> None:
    try:
        (n,) = struct.unpack(">Q", await read_exact(stream, 8))
        received = 0
        while True:
            data = await read_some(stream)
            if not data:
                break
            received += len(data)
        log.info("perf: drained %d bytes, sending %d", received, n)
        await write_n(stream, n)
        await stream.close()
    except Exception as exc:
        log.warning("perf handler: %r", exc)
        await stream.reset()


def install_handlers(host: Any) -> None:
    # ping and identify are registered by default by py-libp2p's BasicHost.
    host.set_stream_handler(ECHO, echo_handler)
    host.set_stream_handler(PERF, perf_handler)


# ---------------------------------------------------------------------- listen


async def wait_for_stop() -> None:
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    log.info("got signal %d, stopping", signum)
                    nursery.cancel_scope.cancel()
                    return

        async def on_stdin_eof() -> None:
            stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            async with stdin:
                while await stdin.receive_some(4096):
                    pass
            log.info("stdin closed, stopping")
            nursery.cancel_scope.cancel()

        nursery.start_soon(on_signal)
        nursery.start_soon(on_stdin_eof)


async def report_discoveries(host: Any, found: Any, dial: bool) -> None:
    """Print each peer mDNS found once; with ``dial``, connect and ping it."""
    seen: set[str] = set()
    async with trio.open_nursery() as nursery:
        async for info in found:
            pid = str(info.peer_id)
            if pid in seen:
                continue
            seen.add(pid)
            addrs = [str(a) for a in info.addrs]
            print(json.dumps({"discovered": pid, "addrs": addrs}), flush=True)
            if dial:
                nursery.start_soon(mdns_dial, host, info)


async def mdns_dial(host: Any, info: Any) -> None:
    pid = str(info.peer_id)
    try:
        with trio.fail_after(20):
            await host.connect(info)
            rtts = await do_ping(host, info.peer_id, 1)
        print(json.dumps({"connected": pid, "ping_ms": rtts[0]}), flush=True)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        print(json.dumps({"dial_failed": pid, "error": error}), flush=True)


async def cmd_listen(args: argparse.Namespace) -> None:
    listen = [multiaddr.Multiaddr(a) for a in args.listen]
    websocket = any(a.rstrip("/").endswith("/ws") for a in args.listen)
    send, found = trio.open_memory_channel[Any](256)
    if args.mdns:
        from libp2p.discovery.events.peerDiscovery import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
            peerDiscovery,
        )

        token = trio.lowlevel.current_trio_token()

        def on_discovered(info: Any) -> None:  # runs on zeroconf's browser thread
            try:
                trio.from_thread.run_sync(send.send_nowait, info, trio_token=token)
            except Exception as exc:  # full, closed or trio gone: a test peer just logs it
                log.warning("mdns: dropped a discovery: %r", exc)

        peerDiscovery.register_peer_discovered_handler(on_discovered)
    quic = any("/quic-v1" in str(a) for a in listen)
    host = make_host(
        args.seed, listen, websocket, mdns=args.mdns, security=args.security, quic=quic
    )
    install_handlers(host)
    if args.autonat:  # py-libp2p's AutoNAT v1 host service, as it ships (server side)
        from libp2p.host.autonat import AutoNATService  # type: ignore[import-not-found,import-untyped,unused-ignore]

        AutoNATService(host)
    async with host.run(listen_addrs=listen):
        peer_id = str(host.get_id())
        addrs = []
        for a in host.get_addrs():
            s = str(a)
            if "/p2p/" not in s:
                s += f"/p2p/{peer_id}"
            addrs.append(s)
        print(json.dumps({"peer_id": peer_id, "listen_addrs": addrs}), flush=True)
        if args.mdns:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(report_discoveries, host, found, args.mdns_dial)
                await wait_for_stop()
                nursery.cancel_scope.cancel()
        else:
            await wait_for_stop()
    os._exit(0)  # py-libp2p's background services can linger; we are done.


# ------------------------------------------------------------------------ dial


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


async def do_identify(host: Any, peer_id: Any) -> dict[str, Any]:
    stream = await host.new_stream(peer_id, [IDENTIFY])
    buf = bytearray()
    while True:
        data = await read_some(stream)
        if not data:
            break
        buf += data
    await stream.close()
    msg = Identify()
    pos = 0
    while pos < len(buf):  # delimited messages until EOF, merged (wire.md §7)
        length, pos = read_uvarint(bytes(buf), pos)
        if pos + length > len(buf):
            raise PeerError("truncated identify message")
        part = Identify()
        part.ParseFromString(bytes(buf[pos : pos + length]))
        msg.MergeFrom(part)
        pos += length
    return {
        "protocols": list(msg.protocols),
        "agent_version": msg.agent_version,
        "protocol_version": msg.protocol_version,
        "listen_addrs": [ma_str(a) for a in msg.listen_addrs],
        "observed_addr": ma_str(msg.observed_addr) if msg.observed_addr else None,
        "signed_peer_record": consume_record(host, peer_id, msg),
    }


def consume_record(host: Any, peer_id: Any, msg: Any) -> dict[str, Any] | None:
    """Verify the identify message's signed peer record with py-libp2p's own code and store it
    in its peer store; None when the message carried none."""
    if not msg.HasField("signedPeerRecord"):
        return None
    envelope, record = consume_envelope(msg.signedPeerRecord, "libp2p-peer-record")
    store = host.get_peerstore()
    accepted = store.consume_peer_record(envelope, 7200)
    return {
        "seq": str(record.seq),
        "addrs": [str(a) for a in record.addrs],
        "peer_id": str(record.peer_id),
        "accepted": accepted and record.peer_id == peer_id,
        "stored": store.get_peer_record(peer_id) is not None,
    }


async def echo_once(host: Any, peer_id: Any, size: int) -> None:
    stream = await host.new_stream(peer_id, [ECHO])
    payload = secrets.token_bytes(size)
    received = bytearray()

    async def reader() -> None:
        while True:
            data = await read_some(stream)
            if not data:
                return
            received.extend(data)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        view = memoryview(payload)
        for off in range(0, size, CHUNK):
            await stream.write(bytes(view[off : off + CHUNK]))
        await half_close(stream)
    if bytes(received) != payload:
        raise PeerError(f"echo mismatch: sent {size} bytes, got {len(received)} back")


async def perf_once(host: Any, peer_id: Any, upload: int, download: int) -> float:
    stream = await host.new_stream(peer_id, [PERF])
    t0 = time.perf_counter()
    await stream.write(struct.pack(">Q", download))
    await write_n(stream, upload)
    await half_close(stream)
    got = 0
    while True:
        data = await read_some(stream)
        if not data:
            break
        got += len(data)
    elapsed = time.perf_counter() - t0
    if got != download:
        raise PeerError(f"perf: expected {download} bytes, got {got}")
    return elapsed


async def do_autonat(host: Any, peer_id: Any) -> dict[str, Any]:
    """Ask the target to dial our listen addresses with py-libp2p's AutoNAT v1 client."""
    from libp2p.host.autonat import AutoNATService  # type: ignore[import-not-found,import-untyped,unused-ignore]

    client = AutoNATService(host, serve=False)
    status, addr = await client.query_server(peer_id, timeout=20.0)
    return {"status": status, "addr": ma_str(addr) if addr else None}


async def cmd_dial(args: argparse.Namespace) -> dict[str, Any]:
    target = multiaddr.Multiaddr(args.multiaddr)
    info = info_from_p2p_addr(target)
    websocket = "/ws" in args.multiaddr
    listen = [multiaddr.Multiaddr(a) for a in args.listen]
    host = make_host(
        args.seed, listen, websocket, security=args.security, quic="/quic-v1" in args.multiaddr
    )
    install_handlers(host)
    result: dict[str, Any] = {"peer_id": str(info.peer_id)}
    async with host.run(listen_addrs=listen):
        t0 = time.perf_counter()
        await host.connect(info)
        result["connect_ms"] = (time.perf_counter() - t0) * 1000.0
        pid = info.peer_id
        if args.ping:
            rtts = await do_ping(host, pid, args.ping)
            result["ping_rtts_ms"] = rtts
            log.info("ping median %.3f ms", statistics.median(rtts))
        if args.identify:
            result["identify"] = await do_identify(host, pid)
        if args.echo is not None:
            k = args.streams
            async with trio.open_nursery() as nursery:
                for _ in range(k):
                    nursery.start_soon(echo_once, host, pid, args.echo)
            result["echo_ok"] = True
            result["echo_bytes"] = args.echo
            if args.streams_given:
                result["streams_ok"] = k
        if args.autonat:
            result["autonat"] = await do_autonat(host, pid)
        if args.perf_upload is not None or args.perf_download is not None:
            up = args.perf_upload or 0
            down = args.perf_download or 0
            up_s = await perf_once(host, pid, up, 0) if up else 0.0
            down_s = await perf_once(host, pid, 0, down) if down else 0.0
            result["perf"] = {
                "upload_bytes": up,
                "download_bytes": down,
                "seconds": up_s + down_s,
                "upload_seconds": up_s,
                "download_seconds": down_s,
                "upload_mb_s": up / up_s / 1e6 if up_s else 0.0,
                "download_mb_s": down / down_s / 1e6 if down_s else 0.0,
            }
        print(json.dumps(result), flush=True)
        _state["printed"] = True
        with trio.move_on_after(2):
            await host.disconnect(pid)
    return result


# ------------------------------------------------------------------------ main


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="peer.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("listen")
    lp.add_argument("--listen", action="append", required=True, metavar="MA")
    lp.add_argument("--seed", metavar="LABEL")
    lp.add_argument("--security", choices=("noise", "tls"), default="noise")
    lp.add_argument("--mdns", action="store_true")
    lp.add_argument("--mdns-dial", action="store_true")
    lp.add_argument("--autonat", action="store_true")
    dp = sub.add_parser("dial")
    dp.add_argument("multiaddr", metavar="MA")
    dp.add_argument("--seed", metavar="LABEL")
    dp.add_argument("--security", choices=("noise", "tls"), default="noise")
    dp.add_argument("--ping", type=int, default=0, metavar="N")
    dp.add_argument("--identify", action="store_true")
    dp.add_argument("--echo", type=int, metavar="BYTES")
    dp.add_argument("--streams", type=int, metavar="K")
    dp.add_argument("--perf-upload", type=int, metavar="BYTES")
    dp.add_argument("--perf-download", type=int, metavar="BYTES")
    dp.add_argument("--timeout", type=float, default=300.0, metavar="S")
    dp.add_argument("--listen", action="append", default=[], metavar="MA")
    dp.add_argument("--autonat", action="store_true")
    args = p.parse_args(argv)
    if args.cmd == "listen" and args.mdns_dial and not args.mdns:
        p.error("--mdns-dial requires --mdns")
    if args.cmd == "dial":
        args.streams_given = args.streams is not None
        if args.streams is None:
            args.streams = 1
        if args.streams_given and args.echo is None:
            p.error("--streams requires --echo")
        if args.streams < 1:
            p.error("--streams must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("INTEROP_PEER_LOG", "WARNING").upper(),
        format="py-peer %(levelname)s %(name)s: %(message)s",
    )
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.cmd == "listen":
            trio.run(cmd_listen, args)
        else:

            async def dial_with_timeout() -> None:
                with trio.fail_after(args.timeout):
                    await cmd_dial(args)

            trio.run(dial_with_timeout)
    except KeyboardInterrupt:
        os._exit(0)
    except BaseException as exc:
        if _state["printed"]:
            log.debug("error after the result was printed", exc_info=True)
            os._exit(0)
        msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        if isinstance(exc, BaseExceptionGroup):
            leaves: list[BaseException] = []

            def flatten(e: BaseException) -> None:
                if isinstance(e, BaseExceptionGroup):
                    for sub in e.exceptions:
                        flatten(sub)
                else:
                    leaves.append(e)

            flatten(exc)
            msg = "; ".join(f"{type(e).__name__}: {e}" for e in leaves).replace("\n", " ")
        log.debug("failure", exc_info=True)
        sys.stderr.flush()
        print(f"error: {msg}", file=sys.stderr, flush=True)
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)  # skip slow/lingering library teardown once the JSON line is out


if __name__ == "__main__":
    main()
