"""``p2pstack demo``: two nodes on loopback exchanging ping, identify and a perf transfer."""

from __future__ import annotations

import argparse
import statistics

import trio
from rich.table import Table

from p2pstack.cli.common import console, emit_json
from p2pstack.cli.sizes import format_size
from p2pstack.compose import open_node
from p2pstack.identity import Identity
from p2pstack.protocols.echo import echo
from p2pstack.protocols.identify import IdentifyService, identify
from p2pstack.protocols.perf import perf, perf_peer
from p2pstack.protocols.ping import ping, ping_peer


async def cmd_demo(args: argparse.Namespace) -> int:
    """Start two nodes, connect them over TCP+Noise+Yamux and exercise the protocols."""
    id_b: IdentifyService = identify()
    human = not args.json
    async with (
        open_node(
            identity=Identity.generate(),
            listen=["/ip4/127.0.0.1/tcp/0"],
            protocols=[ping(), identify(), echo(), perf()],
        ) as alice,
        open_node(identity=Identity.generate(), protocols=[ping(), id_b]) as bob,
    ):
        if human:
            console.rule("[bold]p2pstack demo")
            console.print(f"alice  {alice.peer_id}  listening on {alice.listen_addrs[0]}")
            console.print(f"bob    {bob.peer_id}  (dialler, not listening)")
        start = trio.current_time()
        conn = await bob.dial(alice.addrs[0])
        connect_ms = (trio.current_time() - start) * 1000
        if human:
            console.print(
                f"\nbob → alice: connected in [bold]{connect_ms:.2f} ms[/] "
                f"({conn.security_protocol} + {conn.muxer_protocol} over TCP)"
            )
        info = await id_b.wait_identified(conn)
        rtts = [r * 1000 for r in await ping_peer(bob, conn, count=args.pings)]
        with console.status(f"perf: {format_size(args.size)} each way…", spinner="dots"):
            result = await perf_peer(bob, conn, upload=args.size, download=args.size)
        if args.json:
            emit_json(
                {
                    "alice": str(alice.peer_id),
                    "bob": str(bob.peer_id),
                    "connect_ms": connect_ms,
                    "ping_rtts_ms": rtts,
                    "identify": None
                    if info is None
                    else {
                        "agent_version": info.agent_version,
                        "protocols": list(info.protocols),
                        "listen_addrs": [str(a) for a in info.listen_addrs],
                        "observed_addr": str(info.observed_addr),
                    },
                    "perf": result.to_json(),
                }
            )
            return 0
        table = Table(title="identify: what alice told bob", show_header=False)
        if info is not None:
            table.add_row("agent", info.agent_version)
            table.add_row("protocols", "\n".join(info.protocols))
            table.add_row("listen addrs", "\n".join(str(a) for a in info.listen_addrs))
            table.add_row("bob as alice sees him", str(info.observed_addr))
        console.print(table)
        console.print(
            f"ping x{len(rtts)}: median [bold]{statistics.median(rtts):.3f} ms[/] "
            f"(min {min(rtts):.3f}, max {max(rtts):.3f})"
        )
        console.print(
            f"perf: upload {format_size(result.upload_bytes)} at "
            f"[bold]{result.upload_mb_s:.0f} MB/s[/], download "
            f"{format_size(result.download_bytes)} at [bold]{result.download_mb_s:.0f} MB/s[/]"
        )
        console.rule("[green]demo complete")
    return 0
