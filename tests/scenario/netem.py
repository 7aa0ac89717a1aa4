"""A userspace stand-in for ``tc ... netem`` (this kernel has no sch_netem).

``python -m tests.scenario.netem bridge IF1 IF2 --delay MS --loss PCT [--seed N]`` forwards
every Ethernet frame between two interfaces of its namespace (AF_PACKET sockets), each one
``MS`` milliseconds late, dropping ``PCT`` percent of them at random (both directions). It
prints ``{"ready": true}`` once both sockets are bound and stops on SIGTERM.

``python -m tests.scenario.netem plain DEV...`` turns transmit checksum offload off on the
devices (``ethtool -K DEV tx off``): a frame read from a packet socket must carry a complete
checksum. The senders must not use GSO either (``ip link set DEV gso_max_segs 1``), so every
frame fits the MTU.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import heapq
import json
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17
MAX_FRAME = 65536


def tx_checksum_off(dev: str) -> None:
    """``ethtool -K dev tx off`` through the SIOCETHTOOL ioctl (struct ethtool_value)."""
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0), 8)
    request = struct.pack("16sP", dev.encode(), ctypes.addressof(value))
    with socket.socket() as sock:
        fcntl.ioctl(sock, SIOCETHTOOL, request)


def bridge(if1: str, if2: str, *, delay: float, loss: float, seed: int) -> None:
    """Forward frames between ``if1`` and ``if2`` until SIGTERM (delay in s, loss 0..1)."""
    rnd = random.Random(seed)
    socks: list[socket.socket] = []
    for name in (if1, if2):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((name, 0))
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        socks.append(sock)
    peer = {socks[0].fileno(): socks[1], socks[1].fileno(): socks[0]}
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    pending: list[tuple[float, int, socket.socket, bytes]] = []  # (due, seq, out, frame)
    seq = 0
    print(json.dumps({"ready": True}), flush=True)
    while running[0]:
        wait = max(0.0, pending[0][0] - time.monotonic()) if pending else 0.5
        try:
            readable, _, _ = select.select(socks, [], [], wait)
        except InterruptedError:
            continue
        now = time.monotonic()
        for sock in readable:
            for _ in range(64):
                try:
                    frame, addr = sock.recvfrom(MAX_FRAME)
                except BlockingIOError:
                    break
                if addr[2] == socket.PACKET_OUTGOING or rnd.random() < loss:
                    continue
                seq += 1
                heapq.heappush(pending, (now + delay, seq, peer[sock.fileno()], frame))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, out, frame = heapq.heappop(pending)
            try:
                out.send(frame)
            except OSError as exc:
                print(f"netem: dropped a {len(frame)}-byte frame: {exc}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(prog="netem")
    sub = parser.add_subparsers(dest="command", required=True)
    plain = sub.add_parser("plain")
    plain.add_argument("devs", nargs="+")
    br = sub.add_parser("bridge")
    br.add_argument("if1")
    br.add_argument("if2")
    br.add_argument("--delay", type=float, default=0.0, help="one-way delay in ms")
    br.add_argument("--loss", type=float, default=0.0, help="frames dropped, in percent")
    br.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.command == "plain":
        for dev in args.devs:
            tx_checksum_off(dev)
    else:
        bridge(args.if1, args.if2, delay=args.delay / 1000, loss=args.loss / 100, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
