"""perf (``/perf/1.0.0``, libp2p perf spec): measure upload and download throughput.

The client writes the number of bytes it wants back as a big-endian u64, uploads, half-closes,
and reads until EOF. The server drains the upload, then sends the requested bytes.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Final, final

import trio

from p2pstack.arguments import config_arg
from p2pstack.errors import InvalidConfigError, ProtocolError
from p2pstack.host.connection import Connection
from p2pstack.host.context import NodeContext
from p2pstack.host.netstream import NetStream
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr

PERF_PROTOCOL: Final = "/perf/1.0.0"
_HEADER: Final = struct.Struct(">Q")
DEFAULT_WRITE_SIZE: Final = 256 * 1024
_READ_SIZE: Final = 1 << 20
logger: Final = logging.getLogger("p2pstack.perf")


@dataclass(frozen=True, kw_only=True, slots=True)
class PerfConfig:
    """Perf server options.

    ``write_size``: bytes per ``send_all`` when the server sends. ``idle_timeout`` (30 s): a
    stream that makes no progress for this long (nothing received while the request or the
    upload is read, or no answer bytes taken by the peer) is reset. ``max_bytes`` (None: no
    cap): the most bytes one stream may upload, and the most it may ask for; a stream that
    goes over either is reset (``p2pstack node --perf`` caps at 1 GiB by default).
    """

    write_size: int = DEFAULT_WRITE_SIZE
    idle_timeout: float = 30.0
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.write_size < 1:
            raise InvalidConfigError("write_size must be positive")
        if isinstance(self.idle_timeout, bool) or not self.idle_timeout > 0:
            raise InvalidConfigError("idle_timeout must be positive")
        if self.max_bytes is not None and self.max_bytes < 1:
            raise InvalidConfigError("max_bytes must be positive (None: no cap)")


@final
class PerfService:
    """Serves perf. The spec says perf should not be on by default: add it explicitly."""

    def __init__(self, config: PerfConfig) -> None:
        self.config = config
        self._chunk = memoryview(bytes(config.write_size))

    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        node.set_stream_handler(PERF_PROTOCOL, self.handle)
        task_status.started()

    async def handle(self, stream: NetStream) -> None:
        """Read the requested size, drain the upload, then send the bytes and close; reset
        the stream once idle or over ``max_bytes``."""
        idle = self.config.idle_timeout
        cap = self.config.max_bytes
        with trio.move_on_after(idle) as scope:

            def progress() -> None:
                scope.deadline = trio.current_time() + idle

            (to_send,) = _HEADER.unpack(await stream.receive_exactly(_HEADER.size))
            if cap is not None and to_send > cap:
                await self._refuse(stream, f"asks for {to_send} bytes", cap)
                return
            uploaded = 0
            while chunk := await stream.receive_some(_READ_SIZE):
                uploaded += len(chunk)
                if cap is not None and uploaded > cap:
                    await self._refuse(stream, f"uploads more than {cap} bytes", cap)
                    return
                progress()
            await _send_zeros(stream, to_send, self._chunk, progress)
            await stream.send_eof()
        if scope.cancelled_caught:
            logger.debug(
                "perf stream from %s idle for %s s; resetting", stream.remote_peer.short(), idle
            )
            await stream.reset()

    async def _refuse(self, stream: NetStream, why: str, cap: int) -> None:
        logger.info(
            "perf stream from %s %s (max_bytes=%d); resetting", stream.remote_peer.short(), why, cap
        )
        await stream.reset()


def perf(config: PerfConfig | None = None) -> PerfService:
    """The perf protocol factory (``config``: defaults when None)."""
    return PerfService(config_arg(config, PerfConfig, "perf(config)"))


@dataclass(frozen=True, slots=True)
class PerfResult:
    """Byte counts and the seconds they took; rates in MB/s (10^6 bytes per second)."""

    upload_bytes: int
    download_bytes: int
    upload_seconds: float
    download_seconds: float
    total_seconds: float
    streams: int

    @property
    def upload_mb_s(self) -> float:
        return self.upload_bytes / self.upload_seconds / 1e6 if self.upload_seconds else 0.0

    @property
    def download_mb_s(self) -> float:
        return self.download_bytes / self.download_seconds / 1e6 if self.download_seconds else 0.0

    def to_json(self) -> dict[str, float | int]:
        """A flat dict with the rates included."""
        return {
            **asdict(self),
            "upload_mb_s": self.upload_mb_s,
            "download_mb_s": self.download_mb_s,
        }


async def _send_zeros(
    stream: NetStream, count: int, chunk: memoryview, progress: Callable[[], None] | None = None
) -> None:
    size = len(chunk)
    while count > 0:
        step = min(size, count)
        await stream.send_all(chunk[:step])
        count -= step
        if progress is not None:
            progress()


async def perf_peer(
    node: NodeContext,
    target: Multiaddr | PeerId | str | Connection,
    *,
    upload: int,
    download: int,
    streams: int = 1,
    write_size: int = DEFAULT_WRITE_SIZE,
) -> PerfResult:
    """Run a perf transfer: ``upload`` and ``download`` bytes in total over ``streams`` streams.

    Upload time runs from the start until the last stream's upload is drained by the server
    (its first answer byte or EOF); download time from then until the last byte arrives.

    Raises:
        ProtocolError: the server sent a different number of bytes than requested.
    """
    if streams < 1 or upload < 0 or download < 0 or write_size < 1:
        raise ValueError("streams and write_size must be positive, sizes not negative")
    conn = target if isinstance(target, Connection) else await node.dial(target)
    chunk = memoryview(bytes(write_size))
    upload_done: list[float] = []
    finished: list[float] = []
    received: list[int] = []

    async def one(index: int) -> None:
        up = upload // streams + (1 if index < upload % streams else 0)
        down = download // streams + (1 if index < download % streams else 0)
        stream = await conn.new_stream(PERF_PROTOCOL)
        try:
            await stream.send_all(_HEADER.pack(down))
            await _send_zeros(stream, up, chunk)
            await stream.send_eof()
            first = await stream.receive_some(_READ_SIZE)
            upload_done.append(trio.current_time())
            total = len(first)
            while first:
                first = await stream.receive_some(_READ_SIZE)
                total += len(first)
            finished.append(trio.current_time())
            received.append(total)
            if total != down:
                raise ProtocolError(f"perf server sent {total} bytes instead of {down}")
        finally:
            await stream.aclose()

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for index in range(streams):
            nursery.start_soon(one, index)
    uploaded_at = max(upload_done)
    end = max(finished)
    return PerfResult(
        upload_bytes=upload,
        download_bytes=sum(received),
        upload_seconds=uploaded_at - start,
        download_seconds=end - uploaded_at,
        total_seconds=end - start,
        streams=streams,
    )
