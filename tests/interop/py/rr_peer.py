"""py-libp2p request-response peer for the p2pstack interop tests (py-libp2p venv only).

    rr_peer.py serve PROTOCOL [--listen MA]
        prints one JSON line {"peer_id", "listen_addrs"}, then answers every JSON request
        on PROTOCOL with {"echo": <request>} (py-libp2p RequestResponse + JSONCodec) until
        SIGTERM, SIGINT or EOF on stdin.
    rr_peer.py request MA PROTOCOL JSON [--timeout S]
        sends JSON as one request and prints one line {"response": ...}; on failure prints
        {"error": "<py-libp2p exception class>", "message": ...} and exits 1.

Transport TCP, security Noise only, muxer Yamux only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
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
from libp2p.peer.peerinfo import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    info_from_p2p_addr,
)
from libp2p.request_response import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    JSONCodec,
    RequestContext,
    RequestResponse,
    RequestResponseConfig,
)
from libp2p.security.noise.transport import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    PROTOCOL_ID as NOISE_ID,
    Transport as NoiseTransport,
)
from libp2p.stream_muxer.yamux.yamux import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    PROTOCOL_ID as YAMUX_ID,
    Yamux,
)

log = logging.getLogger("interop-rr-peer")


def make_host(listen: list[Any]) -> Any:
    key_pair = create_new_key_pair()
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    return new_host(
        key_pair=key_pair,
        sec_opt={NOISE_ID: noise},
        muxer_opt={TProtocol(YAMUX_ID): Yamux},
        listen_addrs=listen or None,
    )


async def echo_handler(request: Any, context: RequestContext) -> Any:
    log.info("request from %s: %r", context.peer_id, request)
    return {"echo": request}


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


async def cmd_serve(args: argparse.Namespace) -> None:
    listen = [multiaddr.Multiaddr(args.listen)]
    host = make_host(listen)
    rr = RequestResponse(host)
    rr.set_handler(TProtocol(args.protocol), echo_handler, JSONCodec())
    async with host.run(listen_addrs=listen):
        peer_id = str(host.get_id())
        addrs = [s if "/p2p/" in s else f"{s}/p2p/{peer_id}" for s in map(str, host.get_addrs())]
        print(json.dumps({"peer_id": peer_id, "listen_addrs": addrs}), flush=True)
        await wait_for_stop()


async def cmd_request(args: argparse.Namespace) -> None:
    info = info_from_p2p_addr(multiaddr.Multiaddr(args.multiaddr))
    request = json.loads(args.json)
    host = make_host([])
    rr = RequestResponse(host)
    async with host.run(listen_addrs=[]):
        await host.connect(info)
        try:
            response = await rr.send_request(
                info.peer_id,
                [TProtocol(args.protocol)],
                request,
                JSONCodec(),
                RequestResponseConfig(timeout=args.timeout),
            )
        except Exception as exc:
            print(json.dumps({"error": type(exc).__name__, "message": str(exc)}), flush=True)
            sys.stdout.flush()
            os._exit(1)
        print(json.dumps({"response": response}), flush=True)


def main() -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("INTEROP_PEER_LOG", "WARNING").upper(),
        format="py-rr-peer %(levelname)s %(name)s: %(message)s",
    )
    parser = argparse.ArgumentParser(prog="rr_peer.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("protocol")
    serve.add_argument("--listen", default="/ip4/127.0.0.1/tcp/0")
    req = sub.add_parser("request")
    req.add_argument("multiaddr")
    req.add_argument("protocol")
    req.add_argument("json")
    req.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    try:
        trio.run(cmd_serve if args.cmd == "serve" else cmd_request, args)
    except KeyboardInterrupt:
        pass
    except BaseException as exc:
        print(f"error: {type(exc).__name__}: {exc}".replace("\n", " "), file=sys.stderr, flush=True)
        os._exit(2)
    sys.stdout.flush()
    os._exit(0)  # py-libp2p's background services can linger


if __name__ == "__main__":
    main()
