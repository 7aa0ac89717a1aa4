"""The serving side's view of one inbound request: the request and its responder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

import trio

from p2pstack.protocols.request_response.errors import RequestResponseError, ResponseOmitted
from p2pstack.protocols.request_response.framing import encode_message

if TYPE_CHECKING:
    from collections.abc import Callable

    from p2pstack.identity import PeerId

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class Responder(Generic[Resp]):
    """Answers one inbound request, once.

    :meth:`send` encodes and checks the response at once (so encoding errors reach the
    application); the stream task writes it. :meth:`drop` abandons the request: the
    requester gets ``ResponseOmitted``. After the request timeout the responder expires
    and :meth:`send` raises.
    """

    def __init__(self, encode: Callable[[Resp], bytes], max_size: int, deadline: float) -> None:
        self._encode = encode
        self._max_size = max_size
        self.deadline = deadline
        """trio time after which the answer is no longer awaited."""
        self._done = trio.Event()
        self._frame: bytes | None = None
        self.failure: RequestResponseError | None = None
        """Why no response was sent, once that is known."""

    @property
    def answered(self) -> bool:
        """True once :meth:`send` or :meth:`drop` was called, or the responder expired."""
        return self._done.is_set()

    async def send(self, response: Resp) -> None:
        """Answer with ``response``.

        Raises:
            CodecError, BodyTooLarge: the response cannot be sent (the request is then
                dropped: the requester gets ResponseOmitted).
            ResponseOmitted: already answered, dropped or expired.
        """
        await trio.lowlevel.checkpoint()
        if self._done.is_set():
            raise self.failure or ResponseOmitted("this request was already answered")
        try:
            self._frame = encode_message(self._encode(response), self._max_size)
        except RequestResponseError as exc:
            self.fail(ResponseOmitted(f"the response could not be sent: {exc}"))
            raise
        self._done.set()

    def drop(self, reason: str = "the application dropped the request") -> None:
        """Abandon the request without a response (idempotent)."""
        self.fail(ResponseOmitted(reason))

    def fail(self, failure: RequestResponseError) -> None:
        """End the request without a response because of ``failure`` (idempotent; the
        service uses it when the request expires)."""
        if not self._done.is_set():
            self.failure = failure
            self._done.set()

    async def wait_frame(self) -> bytes | None:
        """The framed response once answered, or None when dropped (see :attr:`failure`);
        the service's stream task writes it."""
        await self._done.wait()
        return self._frame


@dataclass(eq=False)
class InboundRequest(Generic[Req, Resp]):
    """One request allowed by the firewall, waiting for the application's answer."""

    peer: PeerId
    protocol: str
    request: Req
    responder: Responder[Resp] = field(repr=False)

    async def respond(self, response: Resp) -> None:
        """Shorthand for ``responder.send(response)``."""
        await self.responder.send(response)

    def drop(self) -> None:
        """Shorthand for ``responder.drop()``."""
        self.responder.drop()


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Passed to a handler with each request."""

    peer: PeerId
    protocol: str
