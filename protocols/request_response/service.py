"""The request-response service: one stream per request, a firewall in both directions.

Outbound (:meth:`RequestResponse.request`): outbound firewall check, dial, negotiate,
write ``uvarint(len) || request``, half-close, read ``uvarint(len) || response`` (or the
rejection signal, see :mod:`.framing`), close.

Inbound: concurrency limits (refused streams are reset before anything is read), read
the request (size checked before the body is read), decode, inbound firewall check
(refused: :data:`~.framing.REJECTION` then EOF), hand it to the application through the
:class:`~.limits.InboundQueue`, write the response or reset the stream when there is none.
Every inbound failure is published on ``node.events`` as :class:`~.events.InboundFailure`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import trio

from p2pstack.arguments import config_arg, has_methods, instance_arg
from p2pstack.errors import InvalidConfigError, NegotiationFailed, NegotiationTimeout, StackError
from p2pstack.identity import PeerId
from p2pstack.multiaddr import Multiaddr
from p2pstack.protocols.request_response.codec import Codec
from p2pstack.protocols.request_response.errors import (
    CodecError,
    ConnectionDropped,
    DialFailure,
    NotPermitted,
    RequestResponseError,
    RequestTimeout,
    ResponseOmitted,
    UnsupportedProtocols,
)
from p2pstack.protocols.request_response.events import InboundFailure, OutboundFailure
from p2pstack.protocols.request_response.firewall import Firewall, RequestDirection
from p2pstack.protocols.request_response.framing import (
    REJECTION,
    FrameDecoder,
    MessageReceived,
    RejectionReceived,
    encode_message,
)
from p2pstack.protocols.request_response.limits import (
    InboundLimiter,
    InboundQueue,
    QueueFull,
    RequestResponseConfig,
)
from p2pstack.protocols.request_response.metrics import RequestResponseMetrics
from p2pstack.protocols.request_response.responder import InboundRequest, RequestContext, Responder
from p2pstack.protocols.request_response.wire import receive_frame

if TYPE_CHECKING:
    from p2pstack.host.connection import Connection
    from p2pstack.host.context import NodeContext
    from p2pstack.host.netstream import NetStream

logger: Final = logging.getLogger("p2pstack.request_response")

Req = TypeVar("Req")
Resp = TypeVar("Resp")
T = TypeVar("T")

Handler = Callable[[Req, RequestContext], Awaitable[Resp]]
"""An async function answering one request (raise to omit the response)."""

_STREAM_ERRORS: Final = (trio.BrokenResourceError, trio.ClosedResourceError)


def _convert_codec(fn: Callable[[bytes], T], body: bytes) -> T:
    try:
        return fn(body)
    except CodecError:
        raise
    except (ValueError, TypeError) as exc:
        raise CodecError(f"the codec refused the message: {exc}") from exc


class RequestResponse(Generic[Req, Resp]):
    """One request-response protocol on a node.

    Pass it to ``open_node(protocols=[...])``. Serve requests with ``handler`` or, without
    one, by iterating :meth:`requests`. Several instances (different protocol ids, codecs,
    limits, firewalls) can run on one node.

    Args:
        protocol: the protocol id, e.g. ``"/my-app/query/1"``.
        codec: turns requests and responses into bodies (BytesCodec, JsonCodec...).
        handler: answers inbound requests; None to consume :meth:`requests` instead.
        firewall: decides requests in both directions; default allows everything.
        config: limits, timeouts and the backpressure policy.
        serve: False to only send requests (the protocol is not served).
    """

    def __init__(
        self,
        protocol: str,
        codec: Codec[Req, Resp],
        *,
        handler: Handler[Req, Resp] | None = None,
        firewall: Firewall | None = None,
        config: RequestResponseConfig | None = None,
        serve: bool = True,
    ) -> None:
        self.protocol = protocol
        self.codec = codec
        self.handler = handler
        self.firewall = firewall if firewall is not None else Firewall.allow_all()
        self.config = config if config is not None else RequestResponseConfig()
        self.serve_requests = serve
        """Whether the protocol is served (False: this node only sends requests)."""
        self._queue: InboundQueue[InboundRequest[Req, Resp]] = InboundQueue(
            self.config.queue_size, self.config.backpressure
        )
        self._limiter = InboundLimiter(
            self.config.max_inbound_per_peer, self.config.max_inbound_total
        )
        self._node: NodeContext | None = None
        self.metrics = RequestResponseMetrics()
        """Requests, failures and firewall decisions so far (see :mod:`.metrics`)."""

    # ------------------------------------------------------------------ service
    async def serve(
        self, node: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Register the protocol on ``node``; with a handler, run its workers until cancelled."""
        self._node = node
        if self.serve_requests:
            node.set_stream_handler(self.protocol, self._handle_stream)
        try:
            if self.handler is None or not self.serve_requests:
                task_status.started()
                return
            async with trio.open_nursery() as nursery:
                for _ in range(self.config.handler_concurrency):
                    nursery.start_soon(self._worker, self.handler)
                task_status.started()
        finally:
            if self.handler is not None:
                self._queue.close()

    def requests(self) -> AsyncIterator[InboundRequest[Req, Resp]]:
        """Inbound requests allowed by the firewall, oldest first (without a handler).

        Answer each through ``inbound.respond(...)`` / ``inbound.responder``.
        """
        if self.handler is not None:
            raise RuntimeError("this service answers with its handler; requests() is unused")
        return _QueueIterator(self._queue)

    @property
    def node(self) -> NodeContext:
        """The node this service runs on. Raises RuntimeError before the node started it."""
        if self._node is None:
            raise RuntimeError(f"{self.protocol} is not running: pass it to open_node()")
        return self._node

    # ----------------------------------------------------------------- outbound
    async def request(
        self,
        target: PeerId | Multiaddr | str,
        request: Req,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the API the issue asks for; typed RequestTimeout
    ) -> Resp:
        """Send ``request`` to ``target`` (a peer id, or a multiaddr to dial); return the response.

        ``timeout`` (default ``config.request_timeout``) bounds dialling and the exchange;
        the outbound firewall is asked first (its own ``ask_timeout``) when the peer is known.

        Raises:
            InvalidConfigError: ``timeout`` is not positive.
            NotPermitted: our outbound firewall, or the peer's inbound firewall, refused it.
            RequestTimeout, DialFailure, ConnectionDropped, UnsupportedProtocols,
            ResponseOmitted, BodyTooLarge, CodecError, MalformedMessage.
        """
        node = self.node
        if isinstance(target, str):
            target = Multiaddr(target)
        peer = target if isinstance(target, PeerId) else target.peer_id()
        self.metrics.request(self.protocol, RequestDirection.OUTBOUND)
        try:
            seconds = self.config.request_timeout if timeout is None else timeout
            if not seconds > 0:
                raise InvalidConfigError(f"timeout must be positive, not {seconds!r}")
            return await self._request(node, target, peer, request, seconds)
        except RequestResponseError as exc:
            self.metrics.failed(self.protocol, RequestDirection.OUTBOUND, exc)
            node.events.publish(OutboundFailure(peer, self.protocol, exc))
            raise

    async def _request(
        self,
        node: NodeContext,
        target: PeerId | Multiaddr,
        peer: PeerId | None,
        request: Req,
        seconds: float,
    ) -> Resp:
        if peer is not None:
            await self._check(peer, RequestDirection.OUTBOUND, request)
        frame = encode_message(self.codec.encode_request(request), self.config.max_request_size)
        try:
            with trio.fail_after(seconds):
                conn = await self._dial(node, target)
                if peer is None:
                    await self._check(conn.peer_id, RequestDirection.OUTBOUND, request)
                body = await self._exchange(conn, frame)
        except trio.TooSlowError as exc:
            raise RequestTimeout(
                f"no response to the {self.protocol} request within {seconds:g} s"
            ) from exc
        return _convert_codec(self.codec.decode_response, body)

    async def _check(self, peer: PeerId, direction: RequestDirection, request: Req) -> None:
        await self.metrics.check(self.firewall, peer, direction, self.protocol, request)

    async def _dial(self, node: NodeContext, target: PeerId | Multiaddr) -> Connection:
        try:
            return await node.dial(target)
        except StackError as exc:  # DialError, MultiaddrNotSupported, PeerIdMismatch...
            raise DialFailure(f"cannot reach {target}: {exc}") from exc

    async def _exchange(self, conn: Connection, frame: bytes) -> bytes:
        try:
            stream = await conn.new_stream(self.protocol)
        except NegotiationTimeout as exc:
            raise RequestTimeout(f"{conn.peer_id} did not negotiate {self.protocol}") from exc
        except NegotiationFailed as exc:
            raise UnsupportedProtocols(f"{conn.peer_id} does not serve {self.protocol}") from exc
        except _STREAM_ERRORS as exc:  # e.g. reset by a peer over its inbound limits
            raise self._stream_failure(conn, exc) from exc
        except StackError as exc:
            if not conn.is_closed:
                raise  # a local limit (LimitExceeded) or the like, typed already
            raise ConnectionDropped(f"cannot open a stream to {conn.peer_id}: {exc}") from exc
        failed = True
        try:
            try:
                await stream.send_all(frame)
                await stream.send_eof()
                decoder = FrameDecoder(self.config.max_response_size, accept_rejection=True)
                event = await receive_frame(stream, decoder)
            except _STREAM_ERRORS as exc:
                raise self._stream_failure(conn, exc) from exc
            failed = False
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(1):
                if failed:
                    await stream.reset()
                await stream.aclose()
        if isinstance(event, RejectionReceived):
            raise NotPermitted(f"{conn.peer_id}'s firewall refused the {self.protocol} request")
        if isinstance(event, MessageReceived):
            return event.body
        raise ResponseOmitted(f"{conn.peer_id} closed the stream without a response")

    def _stream_failure(self, conn: Connection, exc: BaseException) -> RequestResponseError:
        if conn.is_closed:
            return ConnectionDropped(f"the connection to {conn.peer_id} closed: {exc}")
        return ResponseOmitted(f"{conn.peer_id} reset the stream without a response")

    # ------------------------------------------------------------------ inbound
    async def _handle_stream(self, stream: NetStream) -> None:
        peer = stream.remote_peer
        self.metrics.request(self.protocol, RequestDirection.INBOUND)
        refused = self._limiter.try_acquire(peer)
        if refused is not None:
            self._inbound_failed(peer, ResponseOmitted(f"request refused: {refused}"))
            await stream.reset()
            return
        try:
            await self._serve_stream(stream, peer)
        finally:
            self._limiter.release(peer)

    async def _serve_stream(self, stream: NetStream, peer: PeerId) -> None:
        config = self.config
        try:
            with trio.fail_after(config.request_timeout):
                decoder = FrameDecoder(config.max_request_size)
                event = await receive_frame(stream, decoder)
            if not isinstance(event, MessageReceived):
                raise ResponseOmitted("the requester closed the stream without a request")
            request = _convert_codec(self.codec.decode_request, event.body)
            await self._check(peer, RequestDirection.INBOUND, request)
        except NotPermitted as exc:
            self._inbound_failed(peer, exc)
            await stream.send_all(REJECTION)
            await stream.send_eof()
            return
        except trio.TooSlowError:
            self._inbound_failed(peer, RequestTimeout("the request did not arrive in time"))
            await stream.reset()
            return
        except RequestResponseError as exc:
            self._inbound_failed(peer, exc)
            await stream.reset()
            return
        except _STREAM_ERRORS as exc:
            self._inbound_failed(peer, self._stream_failure(stream.connection, exc))
            return
        await self._answer(stream, peer, request)

    async def _answer(self, stream: NetStream, peer: PeerId, request: Req) -> None:
        deadline = trio.current_time() + self.config.request_timeout
        responder = Responder(self.codec.encode_response, self.config.max_response_size, deadline)
        inbound = InboundRequest(peer, self.protocol, request, responder)
        frame: bytes | None = None
        with trio.move_on_at(deadline):
            try:
                evicted = await self._queue.put(inbound)
            except QueueFull:
                responder.drop("dropped: the application queue is full (drop-newest)")
            except trio.ClosedResourceError:
                responder.drop("the service is shutting down")
            else:
                if evicted is not None:
                    evicted.responder.drop("evicted by a newer request (buffer-newest)")
            frame = await responder.wait_frame()
        if frame is None:
            self._queue.remove(inbound)
            responder.fail(RequestTimeout("the application did not answer in time"))
            self._inbound_failed(peer, responder.failure or ResponseOmitted("no response"))
            await stream.reset()
            return
        try:
            await stream.send_all(frame)
            await stream.send_eof()
        except _STREAM_ERRORS as exc:
            self._inbound_failed(peer, self._stream_failure(stream.connection, exc))

    async def _worker(self, handler: Handler[Req, Resp]) -> None:
        while True:
            try:
                inbound = await self._queue.get()
            except trio.EndOfChannel:
                return
            context = RequestContext(inbound.peer, inbound.protocol)
            with trio.move_on_at(inbound.responder.deadline):
                try:
                    response = await handler(inbound.request, context)
                except Exception as exc:
                    logger.warning("%s handler failed: %r", self.protocol, exc, exc_info=True)
                    inbound.responder.drop(f"the handler failed: {type(exc).__name__}")
                    continue
                try:
                    await inbound.responder.send(response)
                except RequestResponseError as exc:
                    logger.warning("%s response not sent: %s", self.protocol, exc)

    def _inbound_failed(self, peer: PeerId, error: RequestResponseError) -> None:
        logger.debug("inbound %s request from %s failed: %s", self.protocol, peer, error)
        self.metrics.failed(self.protocol, RequestDirection.INBOUND, error)
        self.node.events.publish(InboundFailure(peer, self.protocol, error))

    # ---- state (a p2pstack.host.service.StateProvider) ----------------------------------

    @property
    def state_key(self) -> str:
        """``"request-response:<protocol>"``: where ``Node.export_state`` keeps the rules."""
        return f"request-response:{self.protocol}"

    def export_state(self) -> dict[str, Any]:
        """The firewall's rules (:meth:`Firewall.export_rules`; raises UnserializableRule
        for an unnamed rule holding code)."""
        return self.firewall.export_rules()

    def import_state(self, data: Any) -> None:
        """Replace the firewall's rules with ``data`` (:meth:`Firewall.import_rules`)."""
        if not isinstance(data, Mapping):
            raise InvalidConfigError("the firewall state must be a mapping")
        self.firewall.import_rules(data, replace=True)


class _QueueIterator(Generic[T]):
    def __init__(self, queue: InboundQueue[T]) -> None:
        self._queue = queue

    def __aiter__(self) -> _QueueIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._queue.get()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


_CODEC_METHODS: Final = ("encode_request", "decode_request", "encode_response", "decode_response")


def request_response(
    protocol: str,
    codec: Codec[Req, Resp],
    *,
    handler: Handler[Req, Resp] | None = None,
    firewall: Firewall | None = None,
    config: RequestResponseConfig | None = None,
    serve: bool = True,
) -> RequestResponse[Req, Resp]:
    """Factory for :class:`RequestResponse` (same arguments).

    Raises:
        InvalidConfigError: ``protocol`` is not a protocol id, ``codec`` has no
            ``encode_request``, or ``firewall``/``config`` are of the wrong kind.
    """
    if not isinstance(protocol, str) or not protocol.startswith("/"):
        raise InvalidConfigError(
            f"request_response(protocol): a protocol id starting with '/', got {protocol!r}"
        )
    has_methods(codec, _CODEC_METHODS, "request_response(codec)", "a Codec")
    if firewall is not None:
        instance_arg(firewall, Firewall, "request_response(firewall)")
    return RequestResponse(
        protocol,
        codec,
        handler=handler,
        firewall=firewall,
        config=config_arg(config, RequestResponseConfig, "request_response(config)"),
        serve=serve,
    )
