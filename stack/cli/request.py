"""The ``request`` command and the ``--rr-echo`` diagnostic service of ``node``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from p2pstack.cli.common import client_node, client_protocols, emit_json
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.request_response import JsonCodec, RequestContext, request_response
from p2pstack.protocols.request_response.service import RequestResponse


def _path(text: str) -> Path:
    return Path(text).expanduser()


def json_value(text: str) -> Any:
    """argparse type: a JSON document."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc


def add_request_arguments(cmd: argparse.ArgumentParser) -> None:
    """The arguments of ``p2pstack request``."""
    cmd.add_argument("addr", metavar="MA", help="multiaddr of the peer, with /p2p/<id>")
    cmd.add_argument("protocol", metavar="PROTOCOL", help="request-response protocol id")
    cmd.add_argument("--data", type=json_value, default=None, help="the JSON request (null)")
    cmd.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    cmd.add_argument("--key", type=_path, default=None, help="identity key file")
    cmd.add_argument("--json", action="store_true", help='one line {"response": ...}')


async def cmd_request(args: argparse.Namespace) -> int:
    """Send one JSON request to MA on PROTOCOL and print the response."""
    if not args.timeout > 0:
        raise ValueError("--timeout must be positive")
    target = Multiaddr(args.addr)
    rr = request_response(args.protocol, JsonCodec(), serve=False)
    async with client_node(args.key, protocols=[*client_protocols(), rr]):
        response = await rr.request(target, args.data, timeout=args.timeout)
    if args.json:
        emit_json({"response": response})
    else:
        print(json.dumps(response, indent=2, ensure_ascii=False))
    return 0


async def _echo(request: Any, context: RequestContext) -> Any:
    return {"echo": request}


def rr_echo(protocol: str) -> RequestResponse[Any, Any]:
    """A JSON request-response service answering ``{"echo": <request>}`` on ``protocol``."""
    return request_response(protocol, JsonCodec(), handler=_echo)
