"""py-libp2p 0.8.1 peer with its DCUtR service (``libp2p.relay.circuit_v2.dcutr``) for the
p2pstack DCUtR interop check in the two-NAT namespace bed.

    dcutr_peer.py --relay RELAY_MA --listen MA [--dial CIRCUIT_MA] [--seed LABEL]

Listens on MA, connects to the relay and reserves a slot, runs DCUtR; with --dial it dials
CIRCUIT_MA (through the relay) afterwards. Prints JSON lines: {"peer_id", "circuit"} once
reserved, {"dialled"} after --dial, and {"connections": [...]} whenever the set of its
connections (remote address, relayed or not) changes. Runs until SIGTERM or EOF on stdin.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

import multiaddr  # type: ignore[import-not-found,import-untyped,unused-ignore]
import trio
from libp2p.peer.peerinfo import info_from_p2p_addr  # type: ignore[import-not-found,import-untyped,unused-ignore]
from libp2p.relay.circuit_v2.config import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    RelayConfig,
    RelayRole,
)
from libp2p.relay.circuit_v2.dcutr import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    DCUtRProtocol,
)
from libp2p.relay.circuit_v2.protocol import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    PROTOCOL_ID as HOP_PROTOCOL,
    STOP_PROTOCOL_ID as STOP_PROTOCOL,
    CircuitV2Protocol,
)
from libp2p.relay.circuit_v2.transport import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    CircuitV2Transport,
)
from libp2p.tools.anyio_service import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
    background_trio_service,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relay_peer import (  # type: ignore[import-not-found,unused-ignore]
    make_host,
    relay_limits,
    wait_for_stop,
)


def connections(host: Any) -> list[dict[str, Any]]:
    out = []
    for peer, conns in dict(host.get_network().connections).items():
        for conn in conns if isinstance(conns, list) else [conns]:
            try:
                addrs = [str(a) for a in conn.get_transport_addresses()]
            except Exception:
                addrs = []
            out.append({"peer": str(peer), "addrs": addrs,
                        "relayed": any("/p2p-circuit" in a for a in addrs)})  # fmt: skip
    return sorted(out, key=lambda c: (c["peer"], c["addrs"]))


async def report(host: Any) -> None:
    last: list[dict[str, Any]] | None = None
    while True:
        now = connections(host)
        if now != last:
            print(json.dumps({"connections": now}), flush=True)
            last = now
        await trio.sleep(0.2)


async def main(args: argparse.Namespace) -> None:
    listen = [multiaddr.Multiaddr(args.listen)]
    relay_info = info_from_p2p_addr(multiaddr.Multiaddr(args.relay))
    host = make_host(args.seed, listen)
    limits = relay_limits(argparse.Namespace(limit_data=1 << 30, limit_duration=3600))
    protocol = CircuitV2Protocol(host, limits=limits, allow_hop=False)
    dcutr = DCUtRProtocol(host)
    config = RelayConfig(roles=RelayRole.STOP | RelayRole.CLIENT)
    async with (
        host.run(listen_addrs=listen),
        background_trio_service(protocol),
        background_trio_service(dcutr),
    ):
        host.set_stream_handler(STOP_PROTOCOL, protocol._handle_stop_stream)
        transport = CircuitV2Transport(host, protocol, config)
        await host.connect(relay_info)
        async with trio.open_nursery() as nursery:
            stream = await host.new_stream(relay_info.peer_id, [HOP_PROTOCOL])
            if not await transport.reserve(stream, relay_info.peer_id, nursery):
                raise RuntimeError("the relay refused the reservation")
            peer_id = str(host.get_id())
            circuit = f"{args.relay}/p2p-circuit/p2p/{peer_id}"
            print(json.dumps({"peer_id": peer_id, "circuit": circuit}), flush=True)
            nursery.start_soon(report, host)
            if args.dial:
                conn = await transport.dial(multiaddr.Multiaddr(args.dial))
                print(json.dumps({"dialled": str(conn.muxed_conn.peer_id)}), flush=True)
            await wait_for_stop()
            nursery.cancel_scope.cancel()
    os._exit(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="dcutr_peer.py")
    parser.add_argument("--relay", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--dial")
    parser.add_argument("--seed")
    logging.basicConfig(level="WARNING", stream=sys.stderr)
    logging.getLogger("libp2p.relay.circuit_v2.dcutr").setLevel(
        os.environ.get("PY_PEER_LOG", "WARNING")
    )
    trio.run(main, parser.parse_args())
