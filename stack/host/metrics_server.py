"""A small HTTP endpoint for Prometheus: ``GET /metrics`` and ``GET /healthz``.

It runs on trio beside the node (no thread: collectors read the node's counters in the
node's own thread) and binds exactly the host and port it is given. ``/metrics`` answers
in the format the scraper's ``Accept`` header asks for (OpenMetrics or the Prometheus text
format); ``/healthz`` answers ``200 ok`` while it runs. Anything else is ``404``; a request
head over 8 KiB or slower than 10 s is dropped; any other failure of a request is logged and
ends only that request.
"""

from __future__ import annotations

import logging
from typing import Final

import trio
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

logger: Final = logging.getLogger("p2pstack.metrics")

MAX_HEAD: Final = 8192
REQUEST_TIMEOUT: Final = 10.0
_OPENMETRICS: Final = "application/openmetrics-text"


def parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as a pair; ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def _parse_head(head: bytes) -> tuple[str, str, str]:
    """(method, path, accept header) of a request head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
    accept = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "accept":
            accept = value.strip()
    return method, target.split("?", 1)[0], accept


def answer(registry: CollectorRegistry, head: bytes) -> bytes:
    """The response to one request head (sans-IO: the server below does the I/O)."""
    method, path, accept = _parse_head(head)
    if method not in ("GET", "HEAD"):
        return _response("405 Method Not Allowed", "text/plain", b"method not allowed\n")
    if path == "/healthz":
        body, content_type = b"ok\n", "text/plain; charset=utf-8"
    elif path == "/metrics":
        # Only the format is taken from the scraper's Accept header, never its parameters:
        # prometheus-client parses them (``version=1...0`` raised TypeError) and echoes them
        # into the Content-Type (non-ASCII broke the response). Found by the fuzz target.
        wanted = _OPENMETRICS if _OPENMETRICS in accept else ""
        encoder, content_type = choose_encoder(wanted)
        body = encoder(registry)
    else:
        return _response("404 Not Found", "text/plain", b"not found\n")
    response = _response("200 OK", content_type, body)
    return response[: len(response) - len(body)] if method == "HEAD" else response


async def _handle(registry: CollectorRegistry, stream: trio.SocketStream) -> None:
    async with stream:
        head = b""
        try:
            with trio.fail_after(REQUEST_TIMEOUT):
                while b"\r\n\r\n" not in head:
                    chunk = await stream.receive_some(MAX_HEAD)
                    if not chunk or len(head) + len(chunk) > MAX_HEAD:
                        return
                    head += chunk
            await stream.send_all(answer(registry, head))
        except (trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("metrics request dropped: %r", exc)
        except Exception:  # the boundary: one bad request (or collector) ends only itself
            logger.warning("metrics request failed; connection closed", exc_info=True)


async def serve_metrics(
    registry: CollectorRegistry,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``registry`` on ``host:port`` until cancelled; ``task_status.started`` gets the
    bound ``(host, port)`` (useful with port 0)."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()
    logger.info("metrics on http://%s:%d/metrics", bound[0], bound[1])
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, lambda s: _handle(registry, s), listeners)
        task_status.started((bound[0], bound[1]))
