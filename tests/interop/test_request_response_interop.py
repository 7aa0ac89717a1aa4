"""Request-response against py-libp2p 0.8.1's RequestResponse + JSONCodec, both directions.

The py-libp2p side is tests/interop/py/rr_peer.py, run with the interop venv's python
(installed by scripts/setup-interop-peers.sh; a missing venv fails these tests).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from p2pstack.compose import open_node
from p2pstack.protocols.request_response import (
    Firewall,
    JsonCodec,
    NotPermitted,
    RejectAll,
    RequestContext,
    Rules,
    request_response,
)
from tests.interop.peers import INTEROP_DIR, REPO_ROOT, py_peer_command

pytestmark = pytest.mark.interop

PROTOCOL = "/p2pstack/interop/rr/1"
RR_PEER = INTEROP_DIR / "py" / "rr_peer.py"
REQUESTS: list[Any] = [{"n": 1, "s": "héllo"}, [1, 2.5, None, True], "text", 0, {"deep": {"a": []}}]


def rr_peer_command() -> list[str]:
    python = py_peer_command()[0]  # raises InteropSetupError (-> failure) when not installed
    return [python, str(RR_PEER)]


@asynccontextmanager
async def py_rr_server() -> AsyncIterator[str]:
    """Run ``rr_peer.py serve``; yield its first listen address."""
    with tempfile.TemporaryFile() as err:
        proc = await trio.lowlevel.open_process(
            [*rr_peer_command(), "serve", PROTOCOL],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=str(REPO_ROOT),
        )
        assert proc.stdout is not None
        try:
            line = bytearray()
            with trio.move_on_after(30):
                while not line.endswith(b"\n"):
                    chunk = await proc.stdout.receive_some(4096)
                    if not chunk:
                        break
                    line += chunk
            if not line.endswith(b"\n"):
                err.seek(0)
                pytest.fail(f"rr_peer.py serve printed no address: {err.read().decode()}")
            yield str(json.loads(line)["listen_addrs"][0])
        finally:
            with trio.CancelScope(shield=True):
                proc.kill()
                await proc.wait()


async def py_request(addr: str, request: Any, seconds: float = 10) -> tuple[int, dict[str, Any]]:
    """Run ``rr_peer.py request`` (py-libp2p timeout ``seconds``); return status and JSON."""
    argv = [*rr_peer_command(), "request", addr, PROTOCOL, json.dumps(request)]
    with trio.fail_after(60):
        result = await trio.run_process(
            [*argv, "--timeout", str(seconds)],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            cwd=str(REPO_ROOT),
        )
    lines = result.stdout.decode().splitlines()
    assert lines, f"rr_peer.py request printed nothing: {result.stderr.decode()[-2000:]}"
    return result.returncode, json.loads(lines[0])


async def echo(request: Any, context: RequestContext) -> Any:
    return {"echo": request}


async def test_p2pstack_requests_py_libp2p() -> None:
    client = request_response(PROTOCOL, JsonCodec(), serve=False)
    async with py_rr_server() as addr, open_node(protocols=[client]):
        with trio.fail_after(60):
            for request in REQUESTS:
                assert await client.request(addr, request) == {"echo": request}
            results: dict[int, Any] = {}
            async with trio.open_nursery() as nursery:

                async def one(i: int) -> None:
                    results[i] = await client.request(addr, {"i": i})

                for i in range(8):
                    nursery.start_soon(one, i)
            assert results == {i: {"echo": {"i": i}} for i in range(8)}


async def test_py_libp2p_requests_p2pstack() -> None:
    server = request_response(PROTOCOL, JsonCodec(), handler=echo)
    async with open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[server]) as node:
        addr = str(node.addrs[0])
        for request in REQUESTS[:3]:
            status, line = await py_request(addr, request)
            assert (status, line) == (0, {"response": {"echo": request}})


async def test_rejection_fails_fast_for_py_libp2p_and_for_us() -> None:
    """Our rejection signal: py-libp2p gets an error at once, not a hang; we get NotPermitted."""
    firewall = Firewall(default=Rules.both(RejectAll()))
    server = request_response(PROTOCOL, JsonCodec(), handler=echo, firewall=firewall)
    client = request_response(PROTOCOL, JsonCodec(), serve=False)
    async with open_node(listen=["/ip4/127.0.0.1/tcp/0"], protocols=[server, client]) as node:
        addr = str(node.addrs[0])
        start = trio.current_time()
        status, line = await py_request(addr, {"n": 1}, seconds=30)
        assert status == 1
        # py-libp2p 0.8.1 reads the marker as an empty body, then fails on its read of
        # zero bytes at EOF (RequestTransportError); decoding b"" would fail too.
        assert line["error"] in ("RequestTransportError", "ResponseDecodeError")
        assert trio.current_time() - start < 20  # well before its 30 s timeout
        async with open_node(protocols=[other := request_response(PROTOCOL, JsonCodec())]):
            with pytest.raises(NotPermitted):
                await other.request(addr, 1)
        assert client.protocol == PROTOCOL
