"""``p2pstack discover --mdns`` and ``p2pstack node --mdns`` on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import trio

from p2pstack.compose import open_node
from p2pstack.protocols.discovery.mdns import MdnsConfig, PeerDiscovered, mdns
from p2pstack.protocols.ping import ping, ping_peer

SCRIPT = Path(sys.executable).with_name("p2pstack")


async def test_discover_lists_a_node_on_loopback(no_thread_leak: None) -> None:
    service = mdns(MdnsConfig(interfaces=("127.0.0.1",)))
    async with open_node(
        listen=["/ip4/127.0.0.1/tcp/0"], protocols=[ping()], services=[service]
    ) as node:
        argv = [str(SCRIPT), "discover", "--mdns", "--interface", "127.0.0.1", "--timeout", "6"]
        result = await trio.run_process(
            [*argv, "--json"], capture_stdout=True, capture_stderr=True, check=False
        )
        assert result.returncode == 0, result.stderr.decode()
        lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
        mine = [line for line in lines if line["peer_id"] == str(node.peer_id)]
        assert mine == [{"peer_id": str(node.peer_id), "addrs": [str(node.listen_addrs[0])]}]

        human = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
        assert human.returncode == 0, human.stderr.decode()
        assert str(node.peer_id) in human.stdout.decode()
        assert "peer(s) found" in human.stdout.decode()


async def test_node_mdns_is_found_and_reachable(no_thread_leak: None) -> None:
    service = mdns(MdnsConfig(interfaces=("127.0.0.1",)))
    argv = [str(SCRIPT), "node", "--mdns", "127.0.0.1", "--listen", "/ip4/127.0.0.1/tcp/0"]
    async with open_node(protocols=[ping()], services=[service]) as node:
        with node.events.subscribe() as events:
            proc = await trio.lowlevel.open_process(
                argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            try:
                assert proc.stdout is not None
                line = b""
                with trio.fail_after(30):
                    while not line.endswith(b"\n"):
                        chunk = await proc.stdout.receive_some(1)
                        assert chunk, "p2pstack node exited early"
                        line += chunk
                info = json.loads(line)
                found: PeerDiscovered | None = None
                with trio.fail_after(15):
                    async for event in events:
                        if (
                            isinstance(event, PeerDiscovered)
                            and str(event.peer_id) == info["peer_id"]
                        ):
                            found = event
                            break
                assert found is not None
                assert len(await ping_peer(node, found.peer_id, count=2)) == 2
                proc.send_signal(signal.SIGTERM)
                with trio.fail_after(20):
                    assert await proc.wait() == 0
                with trio.fail_after(10):  # its goodbye removes it
                    while True:
                        if found.peer_id not in service.peers():
                            break
                        await trio.sleep(0.05)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
